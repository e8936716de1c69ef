package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.client.SafeNames;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.util.Optional;
import java.util.Properties;

/**
 * The snapshots this controller made, one small file each under the state directory, so that a
 * repeated CreateSnapshot answers the same snapshot (its creation time included) after a restart,
 * and one of the same name for another volume is refused. Holds no secrets.
 */
final class SnapshotCatalog {

  /** A snapshot made here: its handle, when it was made and the bytes of its files then. */
  record Entry(SnapshotHandle handle, Instant created, long sizeBytes) {}

  private final Path dir;

  SnapshotCatalog(Path dir) {
    this.dir = dir;
  }

  private Path file(String name) {
    return dir.resolve(SafeNames.pathElement(name) + ".properties");
  }

  Optional<Entry> find(String name) {
    Path file = file(name);
    if (!Files.exists(file)) {
      return Optional.empty();
    }
    Properties p = new Properties();
    try (Reader r = Files.newBufferedReader(file)) {
      p.load(r);
    } catch (IOException e) {
      throw Failure.internal(
          "cannot read the record of snapshot " + name + ": " + e.getMessage(), e);
    }
    return Optional.of(
        new Entry(
            new SnapshotHandle(name, p.getProperty("source-volume")),
            Instant.ofEpochSecond(
                Long.parseLong(p.getProperty("created-seconds", "0")),
                Long.parseLong(p.getProperty("created-nanos", "0"))),
            Long.parseLong(p.getProperty("size-bytes", "0"))));
  }

  void put(Entry entry) {
    Properties p = new Properties();
    p.setProperty("source-volume", entry.handle().sourceVolumeId());
    p.setProperty("created-seconds", Long.toString(entry.created().getEpochSecond()));
    p.setProperty("created-nanos", Integer.toString(entry.created().getNano()));
    p.setProperty("size-bytes", Long.toString(entry.sizeBytes()));
    String name = entry.handle().name();
    try {
      Files.createDirectories(dir);
      Path tmp = Files.createTempFile(dir, SafeNames.pathElement(name), ".tmp");
      try (Writer w = Files.newBufferedWriter(tmp)) {
        p.store(w, "snapshot made by jfs-csi");
      }
      try {
        Files.move(
            tmp, file(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file(name), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw Failure.internal("cannot record snapshot " + name + ": " + e.getMessage(), e);
    }
  }

  void remove(String name) {
    try {
      Files.deleteIfExists(file(name));
    } catch (IOException e) {
      throw Failure.internal("cannot forget snapshot " + name + ": " + e.getMessage(), e);
    }
  }
}

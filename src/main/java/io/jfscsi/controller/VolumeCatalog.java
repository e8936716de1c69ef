package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.client.SafeNames;
import java.io.IOException;
import java.io.Reader;
import java.io.Writer;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Optional;
import java.util.Properties;

/**
 * The volumes this controller provisioned, one small file each, so that a repeated CreateVolume is
 * recognised after a restart and an incompatible one is refused. Holds no secrets.
 */
public final class VolumeCatalog {

  /**
   * What CreateVolume was asked for, reduced to what decides compatibility, and what the volume has
   * become since.
   *
   * @param capacityBytes the size CreateVolume asked for
   * @param currentBytes the size now: {@code capacityBytes}, or more after an expansion
   * @param quotaSet whether the directory quota of {@code currentBytes} is in the file system
   */
  record Entry(
      String name,
      String requestHash,
      long capacityBytes,
      String subPath,
      long currentBytes,
      boolean quotaSet) {

    Entry(String name, String requestHash, long capacityBytes, String subPath) {
      this(name, requestHash, capacityBytes, subPath, capacityBytes, false);
    }

    Entry resized(long bytes, boolean set) {
      return new Entry(name, requestHash, capacityBytes, subPath, bytes, set);
    }
  }

  private final Path dir;

  VolumeCatalog(Path dir) {
    this.dir = dir;
  }

  /**
   * The record's file: named through {@link SafeNames}, so that any volume name fits in one file
   * name. A name that is not safe as it is was used verbatim before; such a file is still read.
   */
  private Path file(String name) {
    Path file = dir.resolve(SafeNames.pathElement(name) + ".properties");
    if (Files.exists(file)) {
      return file;
    }
    try {
      Path legacy = dir.resolve(name + ".properties");
      return legacy.getParent().equals(dir) && Files.exists(legacy) ? legacy : file;
    } catch (InvalidPathException e) {
      return file;
    }
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
      throw Failure.internal("cannot read the record of volume " + name + ": " + e.getMessage(), e);
    }
    long requested = Long.parseLong(p.getProperty("capacity-bytes", "0"));
    return Optional.of(
        new Entry(
            name,
            p.getProperty("request-hash", ""),
            requested,
            p.getProperty("sub-path", name),
            Long.parseLong(p.getProperty("current-bytes", Long.toString(requested))),
            Boolean.parseBoolean(p.getProperty("quota-set", "false"))));
  }

  void put(Entry entry) {
    Properties p = new Properties();
    p.setProperty("request-hash", entry.requestHash());
    p.setProperty("capacity-bytes", Long.toString(entry.capacityBytes()));
    p.setProperty("sub-path", entry.subPath());
    p.setProperty("current-bytes", Long.toString(entry.currentBytes()));
    p.setProperty("quota-set", Boolean.toString(entry.quotaSet()));
    try {
      Files.createDirectories(dir);
      String fileName = SafeNames.pathElement(entry.name());
      Path tmp = Files.createTempFile(dir, fileName, ".tmp");
      try (Writer w = Files.newBufferedWriter(tmp)) {
        p.store(w, "volume provisioned by jfs-csi");
      }
      try {
        Files.move(
            tmp,
            dir.resolve(fileName + ".properties"),
            StandardCopyOption.ATOMIC_MOVE,
            StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, dir.resolve(fileName + ".properties"), StandardCopyOption.REPLACE_EXISTING);
      }
    } catch (IOException e) {
      throw Failure.internal("cannot record volume " + entry.name() + ": " + e.getMessage(), e);
    }
  }

  /** The snapshots' records, beside the volumes'. */
  SnapshotCatalog snapshots() {
    return new SnapshotCatalog(dir.resolveSibling("snapshots"));
  }

  void remove(String name) {
    try {
      // Twice: the file named the safe way, then one named verbatim by an earlier version.
      Files.deleteIfExists(file(name));
      Files.deleteIfExists(file(name));
    } catch (IOException e) {
      throw Failure.internal("cannot forget volume " + name + ": " + e.getMessage(), e);
    }
  }
}

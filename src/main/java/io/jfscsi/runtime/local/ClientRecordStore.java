package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.SafeNames;
import io.jfscsi.client.TargetVolume;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client records under {@code dir} (stateDir/clients), in two parts per client:
 *
 * <ul>
 *   <li>{@code <name>.properties}: everything except the targets (how to start the client, its
 *       delayed exit, the client it last ran), in the text {@link RecordFile} writes. It changes
 *       rarely, so it is rewritten only when its bytes differ from the last ones written,
 *       atomically (temp file in the same directory, then rename): a reader or a driver crash sees
 *       the old one or the new one.
 *   <li>{@code <name>.targets.log}: the targets, as an append-only log of their changes, one
 *       checksummed line each (see {@link TargetLog}). A publish or an unpublish is one write (open
 *       with O_APPEND, write, close) to the client's own log: no inode is allocated or freed, no
 *       directory listed, nothing hashed but the new line.
 * </ul>
 *
 * <p>Why a log: with one tiny file per target, written as temp file + rename (the design before it,
 * never released), perf of the driver at 256 concurrent publish/unpublish callers put 27% of its
 * CPU in ext4_create (each publish allocated an inode, each unpublish freed one) and 5% in mkdir;
 * and the SHA-256 of every target on every save, and {@code Properties.store} with the stripping of
 * its date comment, were a third of the Java samples of the mount threads.
 *
 * <p>A publish or an unpublish is one {@link #record} of its change: one line appended, nothing
 * compared. {@link #save}, of a client that starts with its whole record, diffs the record's
 * targets against what the log holds, kept in memory per client (read from disk at the client's
 * first save after the store was made, then touched only by that client's saves, which its actor
 * makes one at a time; dropped when a save fails, so the next one reads the disk again). The store
 * therefore assumes it is the only writer of its directory, as the driver is of its node. The order
 * keeps every acknowledged reference on disk at every step: the lines of added targets (or of a
 * flag change) first, then the record file if it changed, then the lines of removed targets; when
 * the record file is unchanged the adds and removals are one write. A reader concurrent with saves
 * reads a prefix of the log, so it sees a state the targets were in after some save, or between the
 * adds and removals of one.
 *
 * <p>A log is compacted when it has more than twice as many lines as live targets plus 32: the live
 * targets are written to a temp file renamed over it, so a concurrent reader sees the old log or
 * the new one. The next compaction is then more than (live targets + 32) changes away: one inode
 * for at least 33 publishes or unpublishes. A log with a damaged line, or a torn last line (a crash
 * during an append), is compacted by the client's next save, before anything is appended after the
 * torn line.
 *
 * <p>There is no fsync: a record describes mounts and client processes, which do not outlive the
 * host, and against a crash of the driver (what records are for) the page cache is as durable as
 * the disk. Files are 0600 in 0700 directories: they hold the secrets needed to restart a client.
 */
final class ClientRecordStore {
  private static final Logger log = LoggerFactory.getLogger(ClientRecordStore.class);
  private static final String SUFFIX = ".properties";
  private static final Duration ABANDONED_AFTER = Duration.ofMinutes(1);

  private final Path dir;

  /**
   * What the disk holds of each client that saved since the store was made (see the class comment).
   */
  private final ConcurrentHashMap<ClientKey, Saved> saved = new ConcurrentHashMap<>();

  /** A client's files, as its last save left them. */
  private static final class Saved {
    final Path file;
    final TargetLog targets;

    /** The record file's bytes, null if there is none. */
    byte[] bytes;

    Saved(Path file, TargetLog targets, byte[] bytes) {
      this.file = file;
      this.targets = targets;
      this.bytes = bytes;
    }
  }

  ClientRecordStore(Path dir) {
    this.dir = dir;
  }

  Path fileOf(ClientKey key) {
    return dir.resolve(SafeNames.of(key) + SUFFIX);
  }

  private static Path logOf(Path recordFile) {
    return recordFile.resolveSibling(baseName(recordFile) + TargetLog.SUFFIX);
  }

  private static String baseName(Path recordFile) {
    String name = recordFile.getFileName().toString();
    return name.substring(0, name.length() - SUFFIX.length());
  }

  void save(ClientRecord record) {
    Saved s = saved.get(record.key());
    try {
      if (s == null) {
        s = readSaved(record.key());
        saved.put(record.key(), s);
      }
      List<TargetLog.Change> added = new ArrayList<>();
      for (String target : record.targets()) {
        TargetLog.Entry entry =
            new TargetLog.Entry(
                record.readOnlyTargets().contains(target),
                Optional.ofNullable(record.sharedTargets().get(target)));
        if (!entry.equals(s.targets.entry(target))) {
          added.add(new TargetLog.Change(target, entry));
        }
      }
      List<TargetLog.Change> removed = new ArrayList<>();
      for (String target : s.targets.targets()) {
        if (!record.targets().contains(target)) {
          removed.add(TargetLog.Change.removal(target));
        }
      }
      byte[] bytes = RecordFile.encode(record).getBytes(StandardCharsets.UTF_8);
      boolean recordChanged = !Arrays.equals(bytes, s.bytes);
      if (!recordChanged) {
        added.addAll(removed);
        s.targets.write(added);
        return;
      }
      s.targets.write(added);
      writeAtomically(dir, s.file.getFileName().toString(), bytes);
      s.bytes = bytes;
      s.targets.write(removed);
    } catch (IOException | RuntimeException e) {
      if (s != null) {
        saved.remove(
            record.key(), s); // it may not match the disk any more: the next save reads it again
      }
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new UncheckedIOException(
          "cannot save the record of client " + record.key(), (IOException) e);
    }
  }

  /**
   * Writes one change: a line appended to the client's log for a reference, the record file
   * rewritten (atomically) for the delayed exit. Nothing is compared with the record as a whole.
   */
  void record(RecordChange change) {
    ClientKey key = change.key();
    Saved s = saved.get(key);
    try {
      if (s == null) {
        s = readSaved(key);
        saved.put(key, s);
      }
      switch (change) {
        case RecordChange.TargetAdded added -> {
          var entry = new TargetLog.Entry(added.readOnly(), added.shared());
          if (!entry.equals(s.targets.entry(added.target()))) {
            s.targets.write(List.of(new TargetLog.Change(added.target(), entry)));
          }
        }
        case RecordChange.TargetRemoved removed -> {
          if (s.targets.entry(removed.target()) != null) {
            s.targets.write(List.of(TargetLog.Change.removal(removed.target())));
          }
        }
        case RecordChange.DeleteAtChanged exit -> {
          ClientRecord next = exit.applyTo(lastSaved(s));
          byte[] bytes = RecordFile.encode(next).getBytes(StandardCharsets.UTF_8);
          if (!Arrays.equals(bytes, s.bytes)) {
            writeAtomically(dir, s.file.getFileName().toString(), bytes);
            s.bytes = bytes;
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      if (s != null) {
        saved.remove(key, s); // it may not match the disk any more: the next change reads it again
      }
      if (e instanceof RuntimeException r) {
        throw r;
      }
      throw new UncheckedIOException("cannot save a change of client " + key, (IOException) e);
    }
  }

  /** The record file as the client's start saved it (or this store found it on disk). */
  private static ClientRecord lastSaved(Saved s) throws IOException {
    if (s.bytes == null) {
      throw new IllegalStateException(
          "client record " + s.file + " is missing: a change needs the record its start saved");
    }
    return RecordFile.decode(new String(s.bytes, StandardCharsets.UTF_8));
  }

  /** What the disk holds of a client: read at its first save after the store was made. */
  private Saved readSaved(ClientKey key) throws IOException {
    if (!Files.isDirectory(dir)) {
      FileModes.createPrivateDirectories(dir);
    }
    Path file = fileOf(key);
    TargetLog targets = TargetLog.open(logOf(file));
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      bytes = null;
    }
    return new Saved(file, targets, bytes);
  }

  void remove(ClientKey key) {
    saved.remove(key);
    try {
      Path file = fileOf(key);
      Files.deleteIfExists(file);
      Files.deleteIfExists(logOf(file));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot remove the record of client " + key, e);
    }
  }

  List<ClientRecord> load() {
    if (!Files.isDirectory(dir)) {
      return List.of();
    }
    List<ClientRecord> out = new ArrayList<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        if (name.startsWith(".") && name.endsWith(".tmp")) {
          deleteIfAbandoned(file);
        } else if (name.endsWith(SUFFIX)) {
          loadOne(file).ifPresent(out::add);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list client records in " + dir, e);
    }
    return out;
  }

  /** Writes {@code name} in {@code d} under a temp name, then renames it into place. */
  static void writeAtomically(Path d, String name, byte[] bytes) throws IOException {
    Path target = d.resolve(name);
    Path tmp = Files.createTempFile(d, "." + name, ".tmp", FileModes.fileAttribute());
    try {
      try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
      }
      Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(tmp);
      throw e;
    }
  }

  /** A temp file left by a crash in the middle of a save; a young one may be a save in progress. */
  static void deleteIfAbandoned(Path tmp) {
    try {
      if (Files.getLastModifiedTime(tmp)
          .toInstant()
          .isBefore(Instant.now().minus(ABANDONED_AFTER))) {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      log.debug("cannot remove {}: {}", tmp, e.toString());
    }
  }

  private Optional<ClientRecord> loadOne(Path file) {
    ClientRecord r;
    try {
      r = RecordFile.decode(Files.readString(file, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      return Optional.empty(); // removed since the listing
    } catch (IOException | RuntimeException e) {
      Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
      log.warn(
          "skipping unreadable client record {} ({}); moved aside to {}",
          file,
          e.toString(),
          aside);
      // A save that remembers the file's bytes would not write it again.
      saved.values().removeIf(s -> s.file.equals(file));
      try {
        Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException moveFailed) {
        log.warn("cannot move {} aside: {}", file, moveFailed.toString());
      }
      return Optional.empty();
    }
    try {
      Map<String, TargetLog.Entry> live = TargetLog.read(logOf(file)).live();
      Set<String> targets = new HashSet<>();
      Set<String> readOnly = new HashSet<>();
      Map<String, TargetVolume> shared = new HashMap<>();
      live.forEach(
          (target, entry) -> {
            targets.add(target);
            if (entry.readOnly()) {
              readOnly.add(target);
            }
            entry.shared().ifPresent(v -> shared.put(target, v));
          });
      return Optional.of(
          new ClientRecord(
              r.key(), r.source(), targets, readOnly, shared, r.deleteAt(), r.running()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the targets of client record " + file, e);
    }
  }
}

package io.jfscsi.runtime;

import io.jfscsi.juicefs.VolumeSource;
import java.io.IOException;
import java.io.StringReader;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client records under {@code dir} (stateDir/clients), in two parts per client:
 *
 * <ul>
 *   <li>{@code <name>.properties}: everything except the targets (how to start the client, its
 *       delayed exit, the client it last ran). It changes rarely, so {@link #save} rewrites it
 *       only when its bytes differ from the file's, atomically (temp file in the same directory,
 *       then rename): a reader or a driver crash sees the old one or the new one. It is written
 *       line by line, sorted, not with {@link Properties#store} (which, with the stripping of its
 *       date comment, was a third of the Java samples of the mount threads under load), with the
 *       escapes {@link Properties#load} reads back (every character outside printable ASCII as
 *       <code>&#92;uXXXX</code>, so the file is ASCII whatever the secrets hold).
 *   <li>{@code <name>.targets/}: one tiny file per target, named by the SHA-256 of the target
 *       path ({@code .ro} appended for a read-only target), holding the flag and the path. A
 *       publish adds one file and an unpublish removes one, inside the client's own directory,
 *       instead of rewriting every target into the one directory all clients share: jstack of
 *       the driver during a 256-caller publish phase found 103 of 128 mount-dispatcher samples
 *       in the old whole-record save (temp create, rename, lstat in that shared directory).
 *       Each file is written under a dot name and renamed into place, so it is whole or absent;
 *       {@link #load} still checks that the path hashes to the file's name and skips (and
 *       logs) one that does not, so a file damaged any other way can neither invent a target
 *       nor break the record.
 * </ul>
 *
 * <p>{@link #save} diffs the record's targets against a listing of the client's directory, not
 * against a copy kept in memory: only the client's own actor saves its record, the listing of
 * one client's directory is cheap, and whatever is on disk (a crash between two steps, a stale
 * directory of an earlier client with the same key) is corrected by the next save. The order
 * keeps every acknowledged reference on disk at every step: new target files first, then the
 * record file, then the removed targets' files. So a reader concurrent with a save sees each
 * target change whole, but a save that changes several targets may be seen half done.
 *
 * <p>Records written by earlier drivers (format 1: the targets inside the record file) still
 * load; the first save of such a client writes its target files before replacing the record file
 * with format 2, so an upgrade loses no reference. (A driver of the old format cannot read format
 * 2 records: it moves them aside.)
 *
 * <p>There is no fsync: a record describes mounts and client processes, which do not outlive the
 * host, and against a crash of the driver (what records are for) the page cache is as durable as
 * the disk. Files are 0600 in 0700 directories: they hold the secrets needed to restart a client.
 */
final class ClientRecordStore {
  private static final Logger log = LoggerFactory.getLogger(ClientRecordStore.class);
  private static final String SUFFIX = ".properties";
  private static final String TARGETS_SUFFIX = ".targets";
  private static final String READ_ONLY_SUFFIX = ".ro";
  private static final String OLD_FORMAT = "1";
  private static final String FORMAT = "2";
  private static final String COMMENT = "jfs-csi client record: holds secrets, keep 0600";
  private static final java.time.Duration ABANDONED_AFTER = java.time.Duration.ofMinutes(1);

  private final Path dir;

  ClientRecordStore(Path dir) {
    this.dir = dir;
  }

  Path fileOf(ClientKey key) {
    return dir.resolve(SafeNames.of(key) + SUFFIX);
  }

  Path targetsDirOf(ClientKey key) {
    return targetsDirOf(fileOf(key));
  }

  private static Path targetsDirOf(Path recordFile) {
    String name = recordFile.getFileName().toString();
    return recordFile.resolveSibling(name.substring(0, name.length() - SUFFIX.length()) + TARGETS_SUFFIX);
  }

  void save(ClientRecord record) {
    try {
      Path file = fileOf(record.key());
      Path targetsDir = targetsDirOf(file);
      Map<String, String> wanted = new HashMap<>();
      for (String target : record.targets()) {
        wanted.put(targetFileName(target, record.readOnlyTargets().contains(target)), target);
      }
      Set<String> present = listTargetFiles(targetsDir);
      if (present == null) {
        present = Set.of();
        if (!wanted.isEmpty() || !Files.isDirectory(dir)) {
          FileModes.createPrivateDirectories(dir);
        }
        if (!wanted.isEmpty()) {
          createPrivateDirectory(targetsDir);
        }
      }
      for (Map.Entry<String, String> e : wanted.entrySet()) {
        if (!present.contains(e.getKey())) {
          writeAtomically(targetsDir, e.getKey(), targetFileText(e.getValue(), e.getKey()));
        }
      }
      byte[] bytes = encode(record).getBytes(StandardCharsets.UTF_8);
      if (!sameBytes(file, bytes)) {
        if (!Files.isDirectory(dir)) {
          FileModes.createPrivateDirectories(dir);
        }
        writeAtomically(dir, file.getFileName().toString(), bytes);
      }
      for (String name : present) {
        if (!wanted.containsKey(name)) {
          Files.deleteIfExists(targetsDir.resolve(name));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the record of client " + record.key(), e);
    }
  }

  void remove(ClientKey key) {
    try {
      Path file = fileOf(key);
      Files.deleteIfExists(file);
      deleteTree(targetsDirOf(file));
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

  /** The names of the target files in {@code targetsDir}, or null if it does not exist. */
  private static Set<String> listTargetFiles(Path targetsDir) throws IOException {
    Set<String> names = new HashSet<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(targetsDir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (!name.startsWith(".")) {
          names.add(name);
        }
      }
    } catch (NoSuchFileException e) {
      return null;
    }
    return names;
  }

  private static void createPrivateDirectory(Path d) throws IOException {
    try {
      Files.createDirectory(d, PosixFilePermissions.asFileAttribute(FileModes.DIR));
    } catch (FileAlreadyExistsException e) {
      // Made by an earlier save that failed later.
    }
    Files.setPosixFilePermissions(d, FileModes.DIR);
  }

  /** Writes {@code name} in {@code d} under a temp name, then renames it into place. */
  private static void writeAtomically(Path d, String name, byte[] bytes) throws IOException {
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

  private static boolean sameBytes(Path file, byte[] bytes) throws IOException {
    try {
      return Arrays.equals(Files.readAllBytes(file), bytes);
    } catch (NoSuchFileException e) {
      return false;
    }
  }

  private static void deleteTree(Path d) throws IOException {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(d)) {
      for (Path f : files) {
        Files.deleteIfExists(f);
      }
    } catch (NoSuchFileException e) {
      return;
    }
    try {
      Files.deleteIfExists(d);
    } catch (DirectoryNotEmptyException e) {
      log.warn("cannot remove {}: a file was added while it was removed", d);
    }
  }

  static String targetFileName(String target, boolean readOnly) {
    return sha256(target) + (readOnly ? READ_ONLY_SUFFIX : "");
  }

  private static byte[] targetFileText(String target, String fileName) {
    String flag = fileName.endsWith(READ_ONLY_SUFFIX) ? "ro" : "rw";
    return (flag + "\n" + target + "\n").getBytes(StandardCharsets.UTF_8);
  }

  /** The targets recorded in {@code targetsDir}: target path -> read-only. */
  private static Map<String, Boolean> loadTargets(Path targetsDir) throws IOException {
    Map<String, Boolean> out = new HashMap<>();
    try (DirectoryStream<Path> files = Files.newDirectoryStream(targetsDir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        if (name.startsWith(".")) {
          if (name.endsWith(".tmp")) {
            deleteIfAbandoned(f);
          }
          continue;
        }
        String target = parseTargetFile(f, name);
        if (target == null) {
          continue;
        }
        // A flag changed by a save that did not finish: both files are there. Read-only wins.
        out.merge(target, name.endsWith(READ_ONLY_SUFFIX), Boolean::logicalOr);
      }
    } catch (NoSuchFileException e) {
      return out;
    }
    return out;
  }

  /** The target a file names, or null (logged) if it is damaged. */
  private static String parseTargetFile(Path f, String name) {
    try {
      String text = new String(Files.readAllBytes(f), StandardCharsets.UTF_8);
      boolean readOnly = name.endsWith(READ_ONLY_SUFFIX);
      String prefix = (readOnly ? "ro" : "rw") + "\n";
      if (text.startsWith(prefix) && text.endsWith("\n") && text.length() > prefix.length() + 1) {
        String target = text.substring(prefix.length(), text.length() - 1);
        if (targetFileName(target, readOnly).equals(name)) {
          return target;
        }
      }
      log.warn("skipping damaged target file {} ({} bytes): its content does not match its name", f, text.length());
    } catch (NoSuchFileException e) {
      log.debug("target file {} was removed since the listing", f);
    } catch (IOException e) {
      log.warn("skipping unreadable target file {}: {}", f, e.toString());
    }
    return null;
  }

  /** A temp file left by a crash in the middle of a save; a young one may be a save in progress. */
  private static void deleteIfAbandoned(Path tmp) {
    try {
      if (Files.getLastModifiedTime(tmp).toInstant().isBefore(Instant.now().minus(ABANDONED_AFTER))) {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      log.debug("cannot remove {}: {}", tmp, e.toString());
    }
  }

  private Optional<ClientRecord> loadOne(Path file) {
    ClientRecord r;
    try {
      r = decode(Files.readString(file, StandardCharsets.UTF_8));
    } catch (NoSuchFileException e) {
      return Optional.empty(); // removed since the listing
    } catch (IOException | RuntimeException e) {
      Path aside = file.resolveSibling(file.getFileName() + ".corrupt");
      log.warn("skipping unreadable client record {} ({}); moved aside to {}", file, e.toString(), aside);
      try {
        Files.move(file, aside, StandardCopyOption.REPLACE_EXISTING);
      } catch (IOException moveFailed) {
        log.warn("cannot move {} aside: {}", file, moveFailed.toString());
      }
      return Optional.empty();
    }
    try {
      Map<String, Boolean> more = loadTargets(targetsDirOf(file));
      if (more.isEmpty()) {
        return Optional.of(r);
      }
      Set<String> targets = new HashSet<>(r.targets());
      Set<String> readOnly = new HashSet<>(r.readOnlyTargets());
      more.forEach((target, ro) -> {
        targets.add(target);
        if (ro) {
          readOnly.add(target);
        }
      });
      return Optional.of(new ClientRecord(r.key(), r.source(), targets, readOnly, r.deleteAt(), r.running()));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list the targets of client record " + file, e);
    }
  }

  private static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  static String encode(ClientRecord r) {
    Map<String, String> p = new TreeMap<>();
    p.put("format", FORMAT);
    p.put("key.volumeId", r.key().volumeId());
    p.put("key.settingsHash", r.key().settingsHash());
    VolumeSource s = r.source();
    p.put("source.volumeId", s.volumeId());
    s.secrets().forEach((k, v) -> p.put("source.secret." + k, v));
    s.context().forEach((k, v) -> p.put("source.context." + k, v));
    p.put("source.mountFlags.count", Integer.toString(s.mountFlags().size()));
    for (int i = 0; i < s.mountFlags().size(); i++) {
      p.put("source.mountFlag." + i, s.mountFlags().get(i));
    }
    // The targets are files of their own (see the class comment).
    r.deleteAt().ifPresent(t -> p.put("deleteAt", t.toString()));
    r.running().ifPresent(c -> {
      p.put("running.mountPath", c.mountPath().toString());
      p.put("running.handle", c.handle());
      p.put("running.startedAt", c.startedAt().toString());
    });
    // Sorted, and without a date: an unchanged record has the same bytes (save() need not write it).
    StringBuilder out = new StringBuilder(1024).append('#').append(COMMENT).append('\n');
    p.forEach((k, v) -> {
      escape(out, k, true);
      out.append('=');
      escape(out, v, false);
      out.append('\n');
    });
    return out.toString();
  }

  /**
   * {@code s} with the escapes {@link Properties#load} undoes: those of {@link Properties#store}
   * (a space in a key or leading a value, tab, newline, CR, form feed, {@code \ = : # !}), and
   * every other character outside printable ASCII as a unicode escape.
   */
  private static void escape(StringBuilder out, String s, boolean key) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\', '=', ':', '#', '!' -> out.append('\\').append(c);
        case '\t' -> out.append("\\t");
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\f' -> out.append("\\f");
        case ' ' -> out.append(key || i == 0 ? "\\ " : " ");
        default -> {
          if (c < 0x20 || c > 0x7e) {
            out.append('\\').append('u').append(HexFormat.of().toHexDigits(c));
          } else {
            out.append(c);
          }
        }
      }
    }
  }

  static ClientRecord decode(String text) throws IOException {
    Properties props = new Properties();
    props.load(new StringReader(text));
    String format = props.getProperty("format");
    if (!FORMAT.equals(format) && !OLD_FORMAT.equals(format)) {
      throw new IllegalArgumentException("unknown record format " + props.getProperty("format"));
    }
    ClientKey key = new ClientKey(required(props, "key.volumeId"), required(props, "key.settingsHash"));
    Map<String, String> secrets = new HashMap<>();
    Map<String, String> context = new HashMap<>();
    for (String name : props.stringPropertyNames()) {
      if (name.startsWith("source.secret.")) {
        secrets.put(name.substring("source.secret.".length()), props.getProperty(name));
      } else if (name.startsWith("source.context.")) {
        context.put(name.substring("source.context.".length()), props.getProperty(name));
      }
    }
    List<String> flags = new ArrayList<>();
    int flagCount = Integer.parseInt(required(props, "source.mountFlags.count"));
    for (int i = 0; i < flagCount; i++) {
      flags.add(required(props, "source.mountFlag." + i));
    }
    Set<String> targets = new HashSet<>();
    Set<String> readOnly = new HashSet<>();
    // Format 1 kept the targets here; format 2 keeps them as files of their own.
    int targetCount = OLD_FORMAT.equals(format) ? Integer.parseInt(required(props, "targets.count")) : 0;
    for (int i = 0; i < targetCount; i++) {
      String target = required(props, "target." + i);
      targets.add(target);
      if ("true".equals(props.getProperty("target." + i + ".readOnly"))) {
        readOnly.add(target);
      }
    }
    Optional<Instant> deleteAt = Optional.ofNullable(props.getProperty("deleteAt")).map(Instant::parse);
    Optional<RunningClient> running = Optional.empty();
    if (props.getProperty("running.handle") != null) {
      running = Optional.of(new RunningClient(key, Path.of(required(props, "running.mountPath")),
          required(props, "running.handle"), Instant.parse(required(props, "running.startedAt"))));
    }
    VolumeSource source = new VolumeSource(required(props, "source.volumeId"), secrets, context, flags);
    return new ClientRecord(key, source, targets, readOnly, deleteAt, running);
  }

  private static String required(Properties props, String name) {
    String v = props.getProperty(name);
    if (v == null) {
      throw new IllegalArgumentException("missing " + name);
    }
    return v;
  }
}

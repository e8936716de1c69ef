package io.jfscsi.runtime;

import io.jfscsi.juicefs.VolumeSource;
import java.io.IOException;
import java.io.StringReader;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Client records as one properties file per client under {@code dir} (stateDir/clients). Each
 * file is replaced atomically (temp file in the same directory, then rename), so a reader or a
 * driver crash sees the old record or the new one, never half of one. There is no fsync: a record
 * describes mounts and client processes, which do not outlive the host, and against a crash of
 * the driver (what records are for) the page cache is as durable as the disk. It is saved on every
 * publish and unpublish, where two fsyncs cost more than the rest of the call.
 * Files are 0600 in a 0700 directory: they hold the secrets needed to restart a client.
 */
final class ClientRecordStore {
  private static final Logger log = LoggerFactory.getLogger(ClientRecordStore.class);
  private static final String SUFFIX = ".properties";
  private static final String FORMAT = "1";
  private static final java.time.Duration ABANDONED_AFTER = java.time.Duration.ofMinutes(1);

  private final Path dir;

  ClientRecordStore(Path dir) {
    this.dir = dir;
  }

  Path fileOf(ClientKey key) {
    return dir.resolve(SafeNames.of(key) + SUFFIX);
  }

  void save(ClientRecord record) {
    try {
      if (!Files.isDirectory(dir)) {
        FileModes.createPrivateDirectories(dir);
      }
      byte[] bytes = encode(record).getBytes(StandardCharsets.UTF_8);
      Path target = fileOf(record.key());
      Path tmp = Files.createTempFile(dir, "." + target.getFileName(), ".tmp", FileModes.fileAttribute());
      try {
        try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
          ByteBuffer buf = ByteBuffer.wrap(bytes);
          while (buf.hasRemaining()) {
            ch.write(buf);
          }
        }
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } finally {
        Files.deleteIfExists(tmp);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot save the record of client " + record.key(), e);
    }
  }

  void remove(ClientKey key) {
    try {
      Files.deleteIfExists(fileOf(key));
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
    try {
      return Optional.of(decode(Files.readString(file, StandardCharsets.UTF_8)));
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
    List<String> targets = r.targets().stream().sorted().toList();
    p.put("targets.count", Integer.toString(targets.size()));
    for (int i = 0; i < targets.size(); i++) {
      p.put("target." + i, targets.get(i));
      if (r.readOnlyTargets().contains(targets.get(i))) {
        p.put("target." + i + ".readOnly", "true");
      }
    }
    r.deleteAt().ifPresent(t -> p.put("deleteAt", t.toString()));
    r.running().ifPresent(c -> {
      p.put("running.mountPath", c.mountPath().toString());
      p.put("running.handle", c.handle());
      p.put("running.startedAt", c.startedAt().toString());
    });
    Properties props = new Properties();
    props.putAll(p);
    StringWriter w = new StringWriter();
    try {
      props.store(w, "jfs-csi client record: holds secrets, keep 0600");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return w.toString();
  }

  static ClientRecord decode(String text) throws IOException {
    Properties props = new Properties();
    props.load(new StringReader(text));
    if (!FORMAT.equals(props.getProperty("format"))) {
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
    int targetCount = Integer.parseInt(required(props, "targets.count"));
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

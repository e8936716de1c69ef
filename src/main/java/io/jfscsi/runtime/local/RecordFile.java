package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.juicefs.VolumeSource;
import java.io.IOException;
import java.io.StringReader;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;

/**
 * The text of a client's record file ({@code <name>.properties}, format 3): everything of a {@link
 * ClientRecord} but its targets, which live in the client's {@link TargetLog}. Written line by line
 * here, not with {@link Properties#store}, sorted and without a date, so that an unchanged record
 * has the same bytes and {@link ClientRecordStore} need not write it; with the escapes {@link
 * Properties#load} reads back (every character outside printable ASCII as <code>
 * &#92;uXXXX</code>, so the file is ASCII whatever the secrets hold).
 */
final class RecordFile {
  private static final String FORMAT = "3";
  private static final String COMMENT = "jfs-csi client record: holds secrets, keep 0600";

  private RecordFile() {}

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
    // The targets are in the log (see the class comment).
    r.deleteAt().ifPresent(t -> p.put("deleteAt", t.toString()));
    r.running()
        .ifPresent(
            c -> {
              p.put("running.mountPath", c.mountPath().toString());
              p.put("running.handle", c.handle());
              p.put("running.startedAt", c.startedAt().toString());
            });
    // Sorted, and without a date: an unchanged record has the same bytes (save() need not write
    // it).
    StringBuilder out = new StringBuilder(1024).append('#').append(COMMENT).append('\n');
    p.forEach(
        (k, v) -> {
          escape(out, k, true);
          out.append('=');
          escape(out, v, false);
          out.append('\n');
        });
    return out.toString();
  }

  /**
   * {@code s} with the escapes {@link Properties#load} undoes: those of {@link Properties#store} (a
   * space in a key or leading a value, tab, newline, CR, form feed, {@code \ = : # !}), and every
   * other character outside printable ASCII as a unicode escape.
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
    if (!FORMAT.equals(format)) {
      throw new IllegalArgumentException("unknown record format " + props.getProperty("format"));
    }
    ClientKey key =
        new ClientKey(required(props, "key.volumeId"), required(props, "key.settingsHash"));
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
    Optional<Instant> deleteAt =
        Optional.ofNullable(props.getProperty("deleteAt")).map(Instant::parse);
    Optional<RunningClient> running = Optional.empty();
    if (props.getProperty("running.handle") != null) {
      running =
          Optional.of(
              new RunningClient(
                  key,
                  Path.of(required(props, "running.mountPath")),
                  required(props, "running.handle"),
                  Instant.parse(required(props, "running.startedAt"))));
    }
    VolumeSource source =
        new VolumeSource(required(props, "source.volumeId"), secrets, context, flags);
    // The targets are in the log (see loadOne).
    return new ClientRecord(key, source, Set.of(), Set.of(), deleteAt, running);
  }

  private static String required(Properties props, String name) {
    String v = props.getProperty(name);
    if (v == null) {
      throw new IllegalArgumentException("missing " + name);
    }
    return v;
  }
}

package io.jfscsi.runtime.local;

import io.jfscsi.client.TargetVolume;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.zip.CRC32;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The targets of one client as an append-only log, {@code <name>.targets.log} (see {@link
 * ClientRecordStore} for why). One line per change:
 *
 * <pre>
 *   &lt;crc&gt; +rw &lt;path&gt;   the target is referenced read-write (or becomes so)
 *   &lt;crc&gt; +ro &lt;path&gt;   the target is referenced read-only (or becomes so)
 *   &lt;crc&gt; - &lt;path&gt;     the target is no longer referenced
 *   &lt;crc&gt; *rw &lt;volume&gt; &lt;subPath&gt; &lt;path&gt;   as +rw, for a target of another volume
 *   &lt;crc&gt; *ro &lt;volume&gt; &lt;subPath&gt; &lt;path&gt;   as +ro, for a target of another volume
 * </pre>
 *
 * <p>The {@code *} lines are those of a share mode, where one client serves the targets of several
 * volumes: they name the volume the target shows and its directory; their three fields have a space
 * escaped as {@code \s} too. A driver before share modes skips them as damaged lines.
 *
 * <p>{@code <crc>} is the CRC32, 8 hex digits, of the UTF-8 bytes after it and its space, so a
 * damaged line is skipped (with a warning) and invents nothing. The path has {@code \}, newline and
 * carriage return escaped as {@code \\}, {@code \n} and {@code \r}: a line is one change whatever
 * the path holds. A last line without its newline is a write that did not finish (a crash, or a
 * save that a concurrent reader overtook): its change was not acknowledged, so it is ignored.
 * Replaying the lines in order gives the live targets.
 *
 * <p>An instance is what the file holds, kept between the client's saves and used only by them, one
 * at a time. After a write fails it no longer matches the file: the caller drops it and reads the
 * file again.
 */
final class TargetLog {
  private static final Logger log = LoggerFactory.getLogger(TargetLog.class);
  static final String SUFFIX = ".targets.log";

  /** Lines beyond twice the live targets that a log may carry before it is compacted. */
  private static final int SLACK = 32;

  private static final HexFormat HEX = HexFormat.of();

  /**
   * How a live target is referenced: read-only or not, and the volume it shows when that is not the
   * client's own (a share mode).
   */
  record Entry(boolean readOnly, Optional<TargetVolume> shared) {}

  /** One change of a target: {@code entry} is null for a removal. */
  record Change(String target, Entry entry) {
    Change(String target, boolean readOnly) {
      this(target, new Entry(readOnly, Optional.empty()));
    }

    static Change removal(String target) {
      return new Change(target, (Entry) null);
    }
  }

  /** What a file holds: the live targets, its lines, and whether it is clean. */
  record Contents(Map<String, Entry> live, int lines, boolean clean) {}

  private final Path file;
  private final Map<String, Entry> live;
  private int lines;

  /** The file has a damaged line or a torn last line: replace it rather than append to it. */
  private boolean rewrite;

  /** The log in {@code file} as it is now (none: empty). */
  static TargetLog open(Path file) throws IOException {
    Contents c = read(file);
    return new TargetLog(file, new HashMap<>(c.live()), c.lines(), !c.clean());
  }

  private TargetLog(Path file, Map<String, Entry> live, int lines, boolean rewrite) {
    this.file = file;
    this.live = live;
    this.lines = lines;
    this.rewrite = rewrite;
  }

  /** How {@code target} is referenced: null if it is not live. */
  Entry entry(String target) {
    return live.get(target);
  }

  Set<String> targets() {
    return live.keySet();
  }

  /**
   * Records {@code changes}: one append (one write of all their lines), or, when the log has grown
   * to more than twice its live targets plus {@link #SLACK} lines (or must be replaced), the live
   * targets written to a temp file renamed over the log, so a concurrent reader sees the old log or
   * the new one. A write with no changes writes nothing, unless the log must be replaced.
   */
  void write(List<Change> changes) throws IOException {
    if (changes.isEmpty() && !rewrite) {
      return;
    }
    for (Change c : changes) {
      if (c.entry() == null) {
        live.remove(c.target());
      } else {
        live.put(c.target(), c.entry());
      }
    }
    if (rewrite || lines + changes.size() > 2 * live.size() + SLACK) {
      ByteArrayOutputStream out = new ByteArrayOutputStream(64 + live.size() * 96);
      live.forEach((t, e) -> appendEntry(out, t, e));
      ClientRecordStore.writeAtomically(
          file.getParent(), file.getFileName().toString(), out.toByteArray());
      lines = live.size();
      rewrite = false;
    } else {
      ByteArrayOutputStream out = new ByteArrayOutputStream(changes.size() * 96);
      for (Change c : changes) {
        appendEntry(out, c.target(), c.entry());
      }
      append(out.toByteArray());
      lines += changes.size();
    }
  }

  private void append(byte[] bytes) throws IOException {
    try (FileChannel ch =
        FileChannel.open(
            file,
            Set.of(StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND),
            FileModes.fileAttribute())) {
      ByteBuffer buf = ByteBuffer.wrap(bytes);
      while (buf.hasRemaining()) {
        ch.write(buf);
      }
    }
  }

  static void appendLine(ByteArrayOutputStream out, String target, Boolean readOnly) {
    appendEntry(out, target, readOnly == null ? null : new Entry(readOnly, Optional.empty()));
  }

  /** The line of {@code target} referenced as {@code entry} (null: removed). */
  static void appendEntry(ByteArrayOutputStream out, String target, Entry entry) {
    String text;
    if (entry == null) {
      text = "- " + escape(target);
    } else if (entry.shared().isEmpty()) {
      text = (entry.readOnly() ? "+ro " : "+rw ") + escape(target);
    } else {
      TargetVolume v = entry.shared().get();
      text =
          (entry.readOnly() ? "*ro " : "*rw ")
              + field(v.volumeId())
              + " "
              + field(v.subPath())
              + " "
              + field(target);
    }
    byte[] body = text.getBytes(StandardCharsets.UTF_8);
    CRC32 crc = new CRC32();
    crc.update(body);
    out.writeBytes(HEX.toHexDigits((int) crc.getValue()).getBytes(StandardCharsets.US_ASCII));
    out.write(' ');
    out.writeBytes(body);
    out.write('\n');
  }

  /** What {@code file} holds; an absent file holds nothing. Damaged lines are logged. */
  static Contents read(Path file) throws IOException {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(file);
    } catch (NoSuchFileException e) {
      return new Contents(Map.of(), 0, true);
    }
    Map<String, Entry> live = new HashMap<>();
    int lines = 0;
    int damaged = 0;
    int start = 0;
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] != '\n') {
        continue;
      }
      lines++;
      if (!replay(bytes, start, i, live)) {
        damaged++;
        log.warn(
            "skipping damaged line {} of {} ({} bytes): its checksum or form is wrong",
            lines,
            file,
            i - start);
      }
      start = i + 1;
    }
    boolean torn = start < bytes.length;
    if (torn) {
      log.debug("ignoring the unfinished last line of {} ({} bytes)", file, bytes.length - start);
    }
    return new Contents(live, lines, damaged == 0 && !torn);
  }

  /** Applies the line {@code bytes[start, end)} to {@code live}; false if it is damaged. */
  private static boolean replay(byte[] bytes, int start, int end, Map<String, Entry> live) {
    int body = start + 9;
    if (end - start < 12 || bytes[start + 8] != ' ') {
      return false;
    }
    for (int i = start; i < start + 8; i++) {
      if (!HexFormat.isHexDigit(bytes[i])) {
        return false;
      }
    }
    CRC32 crc = new CRC32();
    crc.update(bytes, body, end - body);
    int expected = HexFormat.fromHexDigits(new String(bytes, start, 8, StandardCharsets.US_ASCII));
    if ((int) crc.getValue() != expected) {
      return false;
    }
    String text = new String(bytes, body, end - body, StandardCharsets.UTF_8);
    if (text.startsWith("*rw ") || text.startsWith("*ro ")) {
      String[] fields = text.substring(4).split(" ", -1);
      if (fields.length != 3) {
        return false;
      }
      String volumeId = unescape(fields[0]);
      String subPath = unescape(fields[1]);
      String target = unescape(fields[2]);
      if (volumeId == null
          || volumeId.isEmpty()
          || subPath == null
          || target == null
          || target.isEmpty()) {
        return false;
      }
      live.put(
          target,
          new Entry(text.charAt(2) == 'o', Optional.of(new TargetVolume(volumeId, subPath))));
      return true;
    }
    String target;
    if (text.startsWith("+rw ") || text.startsWith("+ro ")) {
      target = unescape(text.substring(4));
    } else if (text.startsWith("- ")) {
      target = unescape(text.substring(2));
    } else {
      return false;
    }
    if (target == null || target.isEmpty()) {
      return false;
    }
    if (text.charAt(0) == '-') {
      live.remove(target);
    } else {
      live.put(target, new Entry(text.charAt(2) == 'o', Optional.empty()));
    }
    return true;
  }

  static String escape(String s) {
    if (s.indexOf('\\') < 0 && s.indexOf('\n') < 0 && s.indexOf('\r') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length() + 8);
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        default -> b.append(c);
      }
    }
    return b.toString();
  }

  /** A field of a {@code *} line: escaped as a path is, and a space as {@code \s}. */
  static String field(String s) {
    return escape(s).replace(" ", "\\s");
  }

  /** The path {@code s} escapes, or null if it is not a valid escape. */
  static String unescape(String s) {
    if (s.indexOf('\\') < 0) {
      return s;
    }
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c != '\\') {
        b.append(c);
        continue;
      }
      if (++i == s.length()) {
        return null;
      }
      switch (s.charAt(i)) {
        case '\\' -> b.append('\\');
        case 'n' -> b.append('\n');
        case 'r' -> b.append('\r');
        case 's' -> b.append(' ');
        default -> {
          return null;
        }
      }
    }
    return b.toString();
  }
}

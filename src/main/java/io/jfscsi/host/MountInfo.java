package io.jfscsi.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Parser of /proc/PID/mountinfo (proc(5)). A line reads {@code id parent major:minor root
 * mountPoint options [optional...] - fstype source superOptions}; the kernel escapes space, tab,
 * newline and backslash in path-like fields as {@code \ooo}.
 */
public final class MountInfo {
  private MountInfo() {}

  /** The mount table of this process's mount namespace. */
  public static List<MountEntry> self() {
    return read(Path.of("/proc/self/mountinfo"));
  }

  /** The mount table of another process, e.g. a container's, through /proc/PID/mountinfo. */
  public static List<MountEntry> ofProcess(long pid) {
    return read(Path.of("/proc", Long.toString(pid), "mountinfo"));
  }

  /** Reads and parses a mountinfo file; proc files report size 0, so read until EOF. */
  public static List<MountEntry> read(Path file) {
    try {
      return parse(new String(Files.readAllBytes(file), StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }

  /**
   * Parses every non-blank line; a malformed line is an error because the kernel never writes one.
   */
  public static List<MountEntry> parse(String text) {
    List<MountEntry> entries = new ArrayList<>();
    for (String line : text.split("\n")) {
      if (!line.isBlank()) {
        entries.add(parseLine(line));
      }
    }
    return List.copyOf(entries);
  }

  public static MountEntry parseLine(String line) {
    String[] f = line.strip().split(" ");
    int separator = -1;
    // Optional fields (shared:N, master:N, ...) vary in number; the lone "-" ends them.
    for (int i = 6; i < f.length; i++) {
      if (f[i].equals("-")) {
        separator = i;
        break;
      }
    }
    if (separator < 0 || f.length < separator + 3) {
      throw new IllegalArgumentException("malformed mountinfo line: " + line);
    }
    try {
      String superOptions =
          f.length > separator + 3
              ? String.join(" ", List.of(f).subList(separator + 3, f.length))
              : "";
      return new MountEntry(
          Integer.parseInt(f[0]),
          Integer.parseInt(f[1]),
          f[2],
          unescape(f[3]),
          Path.of(unescape(f[4])),
          f[5],
          unescape(f[separator + 1]),
          unescape(f[separator + 2]),
          unescape(superOptions),
          String.join(" ", List.of(f).subList(6, separator)));
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("malformed mountinfo line: " + line, e);
    }
  }

  /**
   * Decodes the kernel's {@code \ooo} octal escapes; a backslash not followed by three octal digits
   * stays.
   */
  public static String unescape(String field) {
    if (field.indexOf('\\') < 0) {
      return field;
    }
    StringBuilder out = new StringBuilder(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '\\' && isOctal(field, i + 1)) {
        out.append((char) Integer.parseInt(field.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        out.append(c);
      }
    }
    return out.toString();
  }

  private static boolean isOctal(String s, int from) {
    if (from + 3 > s.length()) {
      return false;
    }
    for (int i = from; i < from + 3; i++) {
      char c = s.charAt(i);
      if (c < '0' || c > '7') {
        return false;
      }
    }
    return true;
  }

  /**
   * The top-most of the mounts stacked at {@code mountPoint} (compared exactly, so pass a canonical
   * path). A mount placed on top of another has the lower one as parent, so the top is the one no
   * other entry at the same point names as parent; this stays right when propagation tucks a mount
   * underneath, which file order would not.
   */
  /**
   * The mount that serves {@code path} (canonical): the top of the stack at the deepest mount point
   * that contains it.
   */
  public static Optional<MountEntry> holding(List<MountEntry> entries, Path path) {
    Path holder = null;
    for (MountEntry e : entries) {
      if (path.startsWith(e.mountPoint())
          && (holder == null || e.mountPoint().getNameCount() > holder.getNameCount())) {
        holder = e.mountPoint();
      }
    }
    return holder == null ? Optional.empty() : topMostAt(entries, holder);
  }

  public static Optional<MountEntry> topMostAt(List<MountEntry> entries, Path mountPoint) {
    List<MountEntry> stack =
        entries.stream().filter(e -> e.mountPoint().equals(mountPoint)).toList();
    for (int i = stack.size() - 1; i >= 0; i--) {
      MountEntry candidate = stack.get(i);
      if (stack.stream().noneMatch(e -> e.parentId() == candidate.id() && e != candidate)) {
        return Optional.of(candidate);
      }
    }
    return stack.isEmpty() ? Optional.empty() : Optional.of(stack.getLast());
  }
}

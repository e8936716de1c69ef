package io.jfscsi;

import java.nio.file.Path;

/**
 * A user's input as it may appear in an error message or a log line: in single quotes, control and
 * invisible characters escaped (a NUL, a newline or a bidi override cannot forge or hide text), cut
 * after a bounded number of characters with the full length said. Every message that echoes a
 * request field goes through here, so that a huge or hostile input never comes back whole. Never
 * for secret values: those are not shown at all.
 */
public final class Quoted {
  private Quoted() {}

  /** Characters shown before the cut: enough for any id, path or option a person writes. */
  public static final int SHOWN = 128;

  public static String of(String value) {
    return of(value, SHOWN);
  }

  /** A path: kubelet's target paths run to some 350 characters, so more of it is shown. */
  public static String path(Path path) {
    return of(path.toString(), 2 * SHOWN);
  }

  public static String of(String value, int shown) {
    if (value == null) {
      return "(none)";
    }
    StringBuilder out = new StringBuilder(Math.min(value.length(), shown) + 24).append('\'');
    int i = 0;
    int count = 0;
    while (i < value.length() && count < shown) {
      int c = value.codePointAt(i);
      switch (c) {
        case '\n' -> out.append("\\n");
        case '\r' -> out.append("\\r");
        case '\t' -> out.append("\\t");
        case '\0' -> out.append("\\0");
        case '\\' -> out.append("\\\\");
        case '\'' -> out.append("\\'");
        default -> {
          if (visible(c)) {
            out.appendCodePoint(c);
          } else {
            out.append(String.format("\\u%04x", c));
          }
        }
      }
      i += Character.charCount(c);
      count++;
    }
    out.append('\'');
    if (i < value.length()) {
      out.append("... (cut; ")
          .append(value.codePointCount(0, value.length()))
          .append(" characters in all)");
    }
    return out.toString();
  }

  private static boolean visible(int c) {
    return switch (Character.getType(c)) {
      case Character.CONTROL,
          Character.FORMAT,
          Character.SURROGATE,
          Character.PRIVATE_USE,
          Character.UNASSIGNED,
          Character.LINE_SEPARATOR,
          Character.PARAGRAPH_SEPARATOR ->
          false;
      default -> true;
    };
  }
}

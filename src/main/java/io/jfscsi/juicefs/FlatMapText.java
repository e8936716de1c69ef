package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The flat string maps the Go driver reads from the secret keys {@code envs} and {@code configs}:
 * a JSON object ({@code {"TZ":"Asia/Shanghai"}}), a YAML flow map ({@code {TZ: Asia/Shanghai}},
 * as in the Go driver's own docs) or YAML block lines ({@code TZ: Asia/Shanghai}). Only the flat
 * subset is read, which is all the Go driver can use; no YAML library is on the classpath.
 *
 * <p>Everything here came from a secret: messages name the secret key and the entry or line
 * number, never a name or a value from the text.
 */
final class FlatMapText {
  private final String key;
  private final String text;
  private int pos;
  private int entry;

  private FlatMapText(String key, String text) {
    this.key = key;
    this.text = text;
  }

  /** Parses {@code text}, the value of secret key {@code key}, keeping the order of entries. */
  static Map<String, String> parse(String key, String text) {
    String trimmed = text.strip();
    if (trimmed.isEmpty()) {
      return Map.of();
    }
    FlatMapText reader = new FlatMapText(key, trimmed);
    return Collections.unmodifiableMap(trimmed.startsWith("{") ? reader.flow() : reader.block());
  }

  private Map<String, String> flow() {
    Map<String, String> out = new LinkedHashMap<>();
    pos = 1;
    skipSpace();
    if (peek() == '}') {
      pos++;
    } else {
      while (true) {
        entry++;
        skipSpace();
        String name = scalar(":");
        skipSpace();
        expect(':', "needs ':' between name and value");
        skipSpace();
        String value = scalar(",}");
        put(out, name, value, "entry " + entry);
        skipSpace();
        char c = peek();
        pos++;
        if (c == '}') {
          break;
        }
        if (c != ',') {
          throw bad("entry " + entry + " must be followed by ',' or '}'");
        }
      }
    }
    skipSpace();
    if (pos < text.length()) {
      throw bad("has text after the closing '}'");
    }
    return out;
  }

  private Map<String, String> block() {
    Map<String, String> out = new LinkedHashMap<>();
    String[] lines = text.split("\r?\n", -1);
    for (int n = 0; n < lines.length; n++) {
      String line = lines[n];
      String where = "line " + (n + 1);
      String trimmed = line.strip();
      if (trimmed.isEmpty() || trimmed.startsWith("#") || trimmed.equals("---")) {
        continue;
      }
      if (Character.isWhitespace(line.charAt(0))) {
        throw bad(where + " is indented; only a flat map of names to strings is supported");
      }
      entry = n + 1;
      FlatMapText lineReader = new FlatMapText(key, trimmed);
      lineReader.entry = n + 1;
      String name = lineReader.blockName(where);
      lineReader.skipSpace();
      String value = lineReader.blockValue(where);
      put(out, name, value, where);
    }
    return out;
  }

  private String blockName(String where) {
    char c = peek();
    if (c == '"' || c == '\'') {
      String name = quoted();
      expect(':', where + " needs ':' after the quoted name");
      return name;
    }
    // A plain YAML key ends at the first ':' followed by a space or the end of the line.
    for (int i = 0; i < text.length(); i++) {
      if (text.charAt(i) == ':' && (i + 1 == text.length() || text.charAt(i + 1) == ' '
          || text.charAt(i + 1) == '\t')) {
        pos = i + 1;
        return text.substring(0, i).strip();
      }
    }
    throw bad(where + " is not of the form 'NAME: value'");
  }

  private String blockValue(String where) {
    char c = peek();
    if (c == '"' || c == '\'') {
      String value = quoted();
      String rest = text.substring(pos).strip();
      if (!rest.isEmpty() && !rest.startsWith("#")) {
        throw bad(where + " has text after the quoted value");
      }
      return value;
    }
    if (c == '|' || c == '>') {
      throw bad(where + " uses a YAML block scalar; write the value on one line");
    }
    if (c == '{' || c == '[') {
      throw bad(where + " has a nested value; only a flat map of names to strings is supported");
    }
    String value = text.substring(pos);
    int comment = value.indexOf(" #");
    return plain(comment < 0 ? value : value.substring(0, comment));
  }

  /** A quoted scalar, or a plain one ending before any of {@code stops}. */
  private String scalar(String stops) {
    char c = peek();
    if (c == '"' || c == '\'') {
      return quoted();
    }
    if (c == '{' || c == '[') {
      throw bad("entry " + entry + " has a nested value; only a flat map of names to strings is supported");
    }
    int start = pos;
    while (pos < text.length() && stops.indexOf(text.charAt(pos)) < 0) {
      pos++;
    }
    return plain(text.substring(start, pos));
  }

  private String plain(String raw) {
    String value = raw.strip();
    // YAML and JSON null both read as an empty string into the Go driver's map[string]string.
    return value.equals("null") || value.equals("~") ? "" : value;
  }

  private String quoted() {
    char quote = text.charAt(pos++);
    StringBuilder out = new StringBuilder();
    while (pos < text.length()) {
      char c = text.charAt(pos++);
      if (c == quote) {
        if (quote == '\'' && peek() == '\'') { // YAML writes a single quote as ''
          out.append('\'');
          pos++;
          continue;
        }
        return out.toString();
      }
      if (c == '\\' && quote == '"') {
        out.append(escape());
      } else {
        out.append(c);
      }
    }
    throw bad("entry " + entry + " has an unterminated quoted string");
  }

  private char escape() {
    if (pos >= text.length()) {
      throw bad("entry " + entry + " ends inside an escape sequence");
    }
    char c = text.charAt(pos++);
    return switch (c) {
      case '"', '\\', '/', '\'' -> c;
      case 'b' -> '\b';
      case 'f' -> '\f';
      case 'n' -> '\n';
      case 'r' -> '\r';
      case 't' -> '\t';
      case 'u' -> {
        if (pos + 4 > text.length()) {
          throw bad("entry " + entry + " has a short \\u escape");
        }
        try {
          char u = (char) Integer.parseInt(text.substring(pos, pos + 4), 16);
          pos += 4;
          yield u;
        } catch (NumberFormatException e) {
          throw bad("entry " + entry + " has a bad \\u escape");
        }
      }
      default -> throw bad("entry " + entry + " has an unknown escape sequence");
    };
  }

  private void put(Map<String, String> out, String name, String value, String where) {
    if (name.isEmpty()) {
      throw bad(where + " has an empty name");
    }
    if (out.putIfAbsent(name, value) != null) {
      throw bad(where + " repeats a name given earlier; give each name once");
    }
  }

  private void expect(char c, String problem) {
    if (peek() != c) {
      throw bad(problem.startsWith("line") ? problem : "entry " + entry + " " + problem);
    }
    pos++;
  }

  private void skipSpace() {
    while (pos < text.length() && Character.isWhitespace(text.charAt(pos))) {
      pos++;
    }
  }

  private char peek() {
    return pos < text.length() ? text.charAt(pos) : '\0';
  }

  private Failure bad(String problem) {
    return Failure.invalid("secret key '" + key + "' is not a flat map of strings: " + problem
        + ". Write it as JSON ({\"NAME\": \"value\"}) or as one 'NAME: value' line per entry.");
  }
}

package io.jfscsi.management;

import io.jfscsi.mount.ClientView;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/** The little JSON the management routes answer, written by hand (no JSON library needed). */
final class Json {
  private Json() {}

  /** A JSON string literal, escaped as RFC 8259 requires (and {@code </} kept out of HTML). */
  static String string(String s) {
    if (s == null) {
      return "null";
    }
    StringBuilder b = new StringBuilder(s.length() + 2).append('"');
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        case '\r' -> b.append("\\r");
        case '\t' -> b.append("\\t");
        case '\b' -> b.append("\\b");
        case '\f' -> b.append("\\f");
        case '/' -> b.append(i > 0 && s.charAt(i - 1) == '<' ? "\\/" : "/");
        default -> {
          if (c < 0x20 || c == '\u2028' || c == '\u2029') {
            b.append(String.format("\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    return b.append('"').toString();
  }

  static String optional(Optional<?> value) {
    return value.map(v -> string(v.toString())).orElse("null");
  }

  static String strings(Collection<String> values) {
    return "[" + String.join(",", values.stream().map(Json::string).toList()) + "]";
  }

  static String client(ClientView v) {
    return "{\"key\":" + string(v.key())
        + ",\"volumeId\":" + string(v.volumeId())
        + ",\"state\":" + string(v.state().name())
        + ",\"mountPath\":" + string(v.mountPath())
        + ",\"subPath\":" + string(v.subPath())
        + ",\"handle\":" + optional(v.handle())
        + ",\"targets\":" + strings(v.targets())
        + ",\"deleteAt\":" + optional(v.deleteAt())
        + ",\"restarts\":" + v.restarts()
        + ",\"lastError\":" + optional(v.lastError())
        + "}";
  }

  static String clients(List<ClientView> views) {
    return "[" + String.join(",", views.stream().map(Json::client).toList()) + "]";
  }

  /** One volume: the clients that serve it on this node and every target they hold. */
  static String volume(String volumeId, List<ClientView> views) {
    List<String> targets = views.stream().flatMap(v -> v.targets().stream()).sorted().toList();
    return "{\"volumeId\":" + string(volumeId) + ",\"clients\":" + clients(views)
        + ",\"targets\":" + strings(targets) + "}";
  }

  static String error(String message) {
    return "{\"error\":" + string(message) + "}";
  }
}

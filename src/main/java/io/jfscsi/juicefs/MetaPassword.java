package io.jfscsi.juicefs;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;

/**
 * The password of a metaurl, moved out of the client's command line into its environment: {@code
 * /proc/PID/cmdline} is readable by every user of the node, the environment only by the client's
 * owner. JuiceFS reads {@code META_PASSWORD} when the metaurl carries no password: Redis takes it
 * as it is (so a percent-escaped password is decoded here), the SQL engines put it back into the
 * DSN where the password was (so it moves verbatim). Other engines keep the metaurl whole; JuiceFS
 * hides its password from its own process title once it runs.
 *
 * @param url the metaurl without its password ({@code redis://:pw@h/1} becomes {@code
 *     redis://@h/1}, {@code mysql://u:pw@(h)/db} becomes {@code mysql://u@(h)/db})
 * @param password the value for {@code META_PASSWORD}, when one was moved
 */
public record MetaPassword(String url, Optional<String> password) {

  public static final String ENV = "META_PASSWORD";

  private static final Set<String> DECODED = Set.of("redis", "rediss");
  private static final Set<String> VERBATIM = Set.of("mysql", "postgres");

  public static MetaPassword split(String metaUrl) {
    int sep = metaUrl.indexOf("://");
    int at = metaUrl.lastIndexOf('@');
    if (sep < 0 || at < sep) {
      return new MetaPassword(metaUrl, Optional.empty());
    }
    String scheme = metaUrl.substring(0, sep);
    int colon = metaUrl.indexOf(':', sep + 3);
    if (colon < 0 || colon > at || !(DECODED.contains(scheme) || VERBATIM.contains(scheme))) {
      return new MetaPassword(metaUrl, Optional.empty());
    }
    String raw = metaUrl.substring(colon + 1, at);
    if (raw.isEmpty()) {
      return new MetaPassword(metaUrl, Optional.empty());
    }
    Optional<String> password = DECODED.contains(scheme) ? percentDecoded(raw) : Optional.of(raw);
    if (password.isEmpty()) {
      return new MetaPassword(metaUrl, Optional.empty()); // not a URL JuiceFS could parse either
    }
    return new MetaPassword(metaUrl.substring(0, colon) + metaUrl.substring(at), password);
  }

  /** RFC 3986 percent-decoding ('+' stays '+', unlike form decoding); empty when malformed. */
  private static Optional<String> percentDecoded(String s) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
    for (int i = 0; i < bytes.length; i++) {
      if (bytes[i] != '%') {
        out.write(bytes[i]);
        continue;
      }
      if (i + 2 >= bytes.length) {
        return Optional.empty();
      }
      int hi = Character.digit(bytes[i + 1], 16);
      int lo = Character.digit(bytes[i + 2], 16);
      if (hi < 0 || lo < 0) {
        return Optional.empty();
      }
      out.write(hi * 16 + lo);
      i += 2;
    }
    return Optional.of(out.toString(StandardCharsets.UTF_8));
  }
}

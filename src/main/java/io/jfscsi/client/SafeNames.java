package io.jfscsi.client;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * Turns an opaque string (a CSI volume id, a client key's name) into a name that is valid wherever
 * the driver uses one: a single path component (no '/', no "..", at most 255 bytes, ASCII so that
 * it needs no UTF-8 locale), and a Pekko actor name. Strings that already are such a name are used
 * as they are, so names made by earlier versions stay the same; others get unsafe characters
 * replaced and a digest of the whole string appended so that two ids never share one.
 */
public final class SafeNames {
  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_.-]{1,200}");

  private SafeNames() {}

  /** A client key's name as one path component or actor name. */
  public static String of(ClientKey key) {
    return pathElement(key.name());
  }

  /**
   * {@code name} itself when it is made of ASCII letters, digits, '_', '.' and '-' only, does not
   * start with '.' and has at most 200 characters; otherwise at most 113 such characters ending in
   * a digest of {@code name}.
   */
  public static String pathElement(String name) {
    if (SAFE.matcher(name).matches() && !name.startsWith(".")) {
      return name;
    }
    String cleaned = name.replaceAll("[^A-Za-z0-9_-]", "_");
    cleaned = cleaned.substring(0, Math.min(cleaned.length(), 100));
    return cleaned + "-" + sha256(name).substring(0, 12);
  }

  /** Hex SHA-256 of {@code s}'s UTF-8 bytes (also the names of format-2 target files). */
  public static String sha256(String s) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

package io.jfscsi.runtime;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A client key's name as a single path component. CSI volume ids are opaque strings: one with a
 * '/' or ".." must not escape the mount root or the state directory. Safe names are used as
 * they are; others get unsafe characters replaced and a hash appended so they stay distinct.
 */
final class SafeNames {
  private static final Pattern SAFE = Pattern.compile("[A-Za-z0-9_.-]{1,200}");

  private SafeNames() {}

  static String of(ClientKey key) {
    String name = key.name();
    if (SAFE.matcher(name).matches() && !name.startsWith(".")) {
      return name;
    }
    String cleaned = name.replaceAll("[^A-Za-z0-9_-]", "_");
    cleaned = cleaned.substring(0, Math.min(cleaned.length(), 100));
    return cleaned + "-" + sha256(name).substring(0, 12);
  }

  /** Hex SHA-256 of {@code s}'s UTF-8 bytes (also the names of format-2 target files). */
  static String sha256(String s) {
    try {
      return HexFormat.of().formatHex(
          MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}

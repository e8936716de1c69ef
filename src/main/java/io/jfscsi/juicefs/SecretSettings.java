package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a volume's Secret says, with the Go driver's key names. Every value of a secret is treated
 * as secret: messages name keys and say what is wrong, never echo what was given.
 */
record SecretSettings(
    String fsName,
    SecretValue metaUrl,
    Optional<String> storage,
    Optional<String> bucket,
    Optional<SecretValue> accessKey,
    Optional<SecretValue> secretKey,
    Map<String, String> formatOptions,
    Map<String, String> envs,
    Map<String, String> configs,
    Optional<SecretValue> encryptRsaKey,
    Optional<SecretValue> passphrase) {

  /** The variable JuiceFS reads the passphrase of an encrypted RSA key from. */
  public static final String PASSPHRASE_ENV = "JFS_RSA_PASSPHRASE";

  private static final Logger LOG = LoggerFactory.getLogger(SecretSettings.class);

  /** Keys read here, and keys the Go driver reads for Enterprise Edition only (ignored here). */
  private static final Set<String> KNOWN =
      Set.of(
          "name",
          "metaurl",
          "storage",
          "bucket",
          "access-key",
          "secret-key",
          "accesskey",
          "secretkey",
          "format-options",
          "envs",
          "configs",
          "token",
          "passphrase",
          "encrypt_rsa_key",
          "initconfig",
          "block-size",
          "compress",
          "trash-days",
          "capacity",
          "inodes",
          "shards");

  // The rule 'juicefs format' applies to volume names; checked here so a bad name fails the CSI
  // call instead of the client's start.
  private static final Pattern FS_NAME = Pattern.compile("[a-z0-9][a-z0-9-]{1,61}[a-z0-9]");
  private static final Pattern SCHEME = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*");
  static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");

  /** Names only what is set, never a value: everything here came from a Secret. */
  @Override
  public String toString() {
    return "SecretSettings[storage="
        + storage.isPresent()
        + ", bucket="
        + bucket.isPresent()
        + ", accessKey="
        + accessKey.isPresent()
        + ", secretKey="
        + secretKey.isPresent()
        + ", formatOptions="
        + formatOptions.size()
        + ", envs="
        + envs.size()
        + ", configs="
        + configs.size()
        + ", encryptRsaKey="
        + encryptRsaKey.isPresent()
        + ", passphrase="
        + passphrase.isPresent()
        + "]";
  }

  static SecretSettings parse(Map<String, String> secrets) {
    for (String key : secrets.keySet()) {
      if (!KNOWN.contains(key)) {
        LOG.debug("ignoring secret key '{}': jfs-csi does not use it", key);
      }
    }
    String name =
        single(secrets, "name")
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "secret key 'name' is missing; set it to the JuiceFS file system name"));
    if (!FS_NAME.matcher(name).matches()) {
      throw Failure.invalid(
          "secret key 'name' is not a valid JuiceFS file system name: use 3 to"
              + " 63 lower-case letters, digits and '-', starting and ending with a letter or digit");
    }
    String metaUrl = metaUrl(secrets);
    Optional<String> storage = single(secrets, "storage");
    Optional<String> bucket = single(secrets, "bucket");
    Optional<String> accessKey = spelledTwice(secrets, "access-key", "accesskey");
    Optional<String> secretKey = spelledTwice(secrets, "secret-key", "secretkey");

    Map<String, String> format =
        new LinkedHashMap<>(FormatOptions.parse(secrets.get("format-options"), secrets));
    storage = fold(storage, "storage", format);
    bucket = fold(bucket, "bucket", format);
    accessKey = fold(accessKey, "access-key", format);
    secretKey = fold(secretKey, "secret-key", format);

    Map<String, String> envs = envs(secrets.get("envs"));
    Map<String, String> configs = configs(secrets.get("configs"));
    Optional<SecretValue> rsaKey = encryptRsaKey(secrets.get("encrypt_rsa_key"), format);
    Optional<SecretValue> passphrase = passphrase(secrets.get("passphrase"), envs);
    return new SecretSettings(
        name,
        new SecretValue(metaUrl),
        storage,
        bucket,
        accessKey.map(SecretValue::new),
        secretKey.map(SecretValue::new),
        sorted(format),
        sorted(envs),
        sorted(configs),
        rsaKey,
        passphrase);
  }

  /**
   * The passphrase as juicefs gets it: the whole value (a passphrase may begin or end with a space)
   * but for one trailing line break, as 'kubectl create secret --from-file' leaves it.
   */
  static Optional<String> passphraseText(String value) {
    if (value == null) {
      return Optional.empty();
    }
    String text = value.endsWith("\n") ? value.substring(0, value.length() - 1) : value;
    return text.isEmpty() ? Optional.empty() : Optional.of(text);
  }

  /** The RSA key's PEM text as written, blank meaning absent. */
  static Optional<String> rsaKeyText(String value) {
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value);
  }

  /**
   * The PEM text of the RSA private key that {@code juicefs format --encrypt-rsa-key} reads from a
   * file; kept as written (line breaks included). Never quoted in a message.
   */
  private static Optional<SecretValue> encryptRsaKey(String value, Map<String, String> format) {
    if (rsaKeyText(value).isEmpty()) {
      return Optional.empty();
    }
    if (format.containsKey("encrypt-rsa-key")) {
      throw Failure.invalid(
          "secret key 'encrypt_rsa_key' and the format option 'encrypt-rsa-key' in"
              + " 'format-options' are both set; keep only 'encrypt_rsa_key' (the key itself), which"
              + " the driver writes to a file for juicefs format");
    }
    if (!value.contains("-----BEGIN ") || !value.contains("PRIVATE KEY-----")) {
      throw Failure.invalid(
          "secret key 'encrypt_rsa_key' is not a PEM private key: it must hold the text of the key"
              + " file, from '-----BEGIN ... PRIVATE KEY-----' to its END line (e.g. from"
              + " 'openssl genrsa -out key.pem -aes256 2048')");
    }
    if (value.indexOf('\0') >= 0) {
      throw Failure.invalid("secret key 'encrypt_rsa_key' contains a NUL character");
    }
    return Optional.of(new SecretValue(value));
  }

  /**
   * The passphrase of the RSA key, which juicefs reads as JFS_RSA_PASSPHRASE (the Go driver's docs
   * put it in 'envs' under that name; both work, and they must agree).
   */
  private static Optional<SecretValue> passphrase(String value, Map<String, String> envs) {
    Optional<String> text = passphraseText(value);
    if (text.isEmpty()) {
      return Optional.empty();
    }
    String stripped = text.get();
    if (stripped.indexOf('\0') >= 0 || stripped.indexOf('\n') >= 0) {
      throw Failure.invalid(
          "secret key 'passphrase' contains a line break or a NUL character, which an environment"
              + " variable cannot carry to juicefs");
    }
    String fromEnvs = envs.get(PASSPHRASE_ENV);
    if (fromEnvs != null && !fromEnvs.equals(stripped)) {
      throw Failure.invalid(
          "secret key 'passphrase' and '"
              + PASSPHRASE_ENV
              + "' in secret key 'envs' have different values; keep only one of them");
    }
    return Optional.of(new SecretValue(stripped));
  }

  /** Sorted, so that command lines built from the map are the same on every run. */
  private static Map<String, String> sorted(Map<String, String> map) {
    return Collections.unmodifiableMap(new TreeMap<>(map));
  }

  private static String metaUrl(Map<String, String> secrets) {
    Optional<String> given = single(secrets, "metaurl");
    if (given.isEmpty()) {
      throw Failure.invalid(
          secrets.containsKey("token")
              ? "secret key 'metaurl' is missing and 'token' is set: JuiceFS Enterprise Edition is not"
                  + " supported; use a Community Edition volume with its metadata engine URL in 'metaurl'"
              : "secret key 'metaurl' is missing; set it to the metadata engine URL, e.g."
                  + " redis://host:6379/1");
    }
    String url = given.get();
    if (url.startsWith("local://") || url.startsWith("/")) {
      String dir = url.startsWith("/") ? url : url.substring("local://".length());
      if (!dir.startsWith("/") || dir.contains("/../") || dir.endsWith("/..")) {
        throw Failure.invalid(
            "secret key 'metaurl' names a local directory but not as an"
                + " absolute path without '..'; write it as local:///absolute/dir");
      }
      return url;
    }
    int sep = url.indexOf("://");
    if (sep < 0) {
      return "redis://" + url; // the Go driver's default scheme
    }
    if (!SCHEME.matcher(url.substring(0, sep)).matches()) {
      throw Failure.invalid(
          "secret key 'metaurl' does not start with a valid scheme; write it as"
              + " <engine>://..., e.g. redis://host:6379/1 or postgres://user@host/db");
    }
    return url;
  }

  /**
   * A single-line value: surrounding whitespace (often a newline left by kubectl --from-file) is
   * dropped, and whitespace or control characters inside are refused; blank means absent.
   */
  private static Optional<String> single(Map<String, String> secrets, String key) {
    String value = secrets.get(key);
    if (value == null || value.isBlank()) {
      return Optional.empty();
    }
    String stripped = value.strip();
    if (stripped.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
      throw Failure.invalid(
          "secret key '"
              + key
              + "' contains whitespace or control characters"
              + " inside its value; it must be a single word or URL");
    }
    return Optional.of(stripped);
  }

  private static Optional<String> spelledTwice(
      Map<String, String> secrets, String key, String legacy) {
    Optional<String> current = single(secrets, key);
    Optional<String> old = single(secrets, legacy);
    if (current.isPresent() && old.isPresent() && !current.equals(old)) {
      throw Failure.invalid(
          "secret keys '"
              + key
              + "' and '"
              + legacy
              + "' (its older spelling)"
              + " have different values; keep only '"
              + key
              + "'");
    }
    return current.or(() -> old);
  }

  /** Moves {@code option} out of the format options, where older secrets sometimes put it. */
  private static Optional<String> fold(
      Optional<String> fromKey, String option, Map<String, String> format) {
    String fromOptions = format.remove(option);
    if (fromOptions == null) {
      return fromKey;
    }
    if (fromKey.isPresent() && !fromKey.get().equals(fromOptions)) {
      throw Failure.invalid(
          "'"
              + option
              + "' is given both as a secret key and in secret key"
              + " 'format-options', with different values; keep only the secret key '"
              + option
              + "'");
    }
    return Optional.of(fromOptions);
  }

  private static Map<String, String> envs(String text) {
    if (text == null) {
      return Map.of();
    }
    Map<String, String> envs = FlatMapText.parse("envs", text);
    int n = 0;
    for (Map.Entry<String, String> e : envs.entrySet()) {
      n++;
      if (e.getKey()
          .chars()
          .anyMatch(c -> c == '=' || Character.isWhitespace(c) || Character.isISOControl(c))) {
        throw Failure.invalid(
            "secret key 'envs': entry "
                + n
                + " has a name that cannot be an"
                + " environment variable (no '=', spaces or control characters), e.g. TZ");
      }
      if (e.getValue().indexOf('\0') >= 0) {
        throw Failure.invalid(
            "secret key 'envs': entry "
                + n
                + " has a NUL character in its"
                + " value, which an environment variable cannot hold");
      }
    }
    return envs;
  }

  private static Map<String, String> configs(String text) {
    if (text == null) {
      return Map.of();
    }
    Map<String, String> configs = FlatMapText.parse("configs", text);
    int n = 0;
    for (Map.Entry<String, String> e : configs.entrySet()) {
      n++;
      String path = e.getValue();
      boolean goodPath =
          path.startsWith("/")
              && !path.contains("/../")
              && !path.endsWith("/..")
              && path.indexOf('\0') < 0;
      if (e.getKey().length() > 253 || !DNS_SUBDOMAIN.matcher(e.getKey()).matches() || !goodPath) {
        throw Failure.invalid(
            "secret key 'configs': entry "
                + n
                + " must map the name of a"
                + " Secret (a lower-case DNS name) to the absolute path where the client sees it,"
                + " e.g. 'my-ca-secret: /etc/ssl/jfs'");
      }
    }
    return configs;
  }
}

package io.jfscsi.juicefs;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * The hash that tells whether two publishes of a volume can share one JuiceFS client: hex SHA-256
 * over a canonical form of everything that makes a client different. Secrets are part of it
 * (changed credentials must start a new client); only the digest of the whole text leaves this
 * class, so they cannot be read back from it. The sub-path and the pod info kubelet adds are not
 * part of it: every pod of a volume shares the same client whatever directory it sees.
 */
final class ClientHash {
  private ClientHash() {}

  /** Bumped when the canonical form changes, so that old and new hashes never collide. */
  private static final String VERSION = "jfs-csi/client/1";

  static String of(SecretSettings secret, ContextSettings context, MountOptions mount) {
    Canonical c = new Canonical();
    c.field("version", VERSION);
    c.field("fsName", secret.fsName());
    c.field("metaUrl", secret.metaUrl().reveal());
    c.field("storage", secret.storage());
    c.field("bucket", secret.bucket());
    c.field("accessKey", secret.accessKey().map(SecretValue::reveal));
    c.field("secretKey", secret.secretKey().map(SecretValue::reveal));
    c.map("formatOptions", secret.formatOptions());
    c.map("envs", secret.envs());
    c.map("configs", secret.configs());
    // Only when set, so that the hash of every volume without them stays what it was.
    secret.encryptRsaKey().ifPresent(k -> c.field("encryptRsaKey", k.reveal()));
    secret.passphrase().ifPresent(p -> c.field("passphrase", p.reveal()));
    // Options are sorted: the same set written in another order is the same client.
    c.list("mountOptions", mount.options().stream().sorted().toList());
    c.list("cacheDirs", mount.cacheDirs().stream().map(Path::toString).sorted().toList());
    ClientResources r = context.resources();
    c.field("cpuRequest", r.cpuRequestMillis().map(String::valueOf));
    c.field("cpuLimit", r.cpuLimitMillis().map(String::valueOf));
    c.field("memoryRequest", r.memoryRequestBytes().map(String::valueOf));
    c.field("memoryLimit", r.memoryLimitBytes().map(String::valueOf));
    c.field("image", context.mountImage());
    c.field("cachePvc", context.cachePvc());
    // Lifecycle settings are in too, as in the Go driver, whose hash covers its whole setting.
    c.field("deleteDelay", String.valueOf(context.deleteDelay().toNanos()));
    c.field("cleanCache", String.valueOf(context.cleanCache()));
    c.map("mountPodKeys", context.mountPodKeys());
    return c.sha256();
  }

  /**
   * An unambiguous text: every value is length-prefixed, so no choice of values can make two
   * different settings produce the same text.
   */
  private static final class Canonical {
    private final StringBuilder text = new StringBuilder();

    void field(String name, String value) {
      text.append(name).append('=').append(value.length()).append(':').append(value).append('\n');
    }

    void field(String name, Optional<String> value) {
      if (value.isPresent()) {
        field(name, value.get());
      } else {
        text.append(name).append("=-\n"); // absent differs from empty, which is "=0:"
      }
    }

    void map(String name, Map<String, String> map) {
      text.append(name).append("{").append(map.size()).append('\n');
      new TreeMap<>(map)
          .forEach(
              (k, v) -> {
                field(name + ".key", k);
                field(name + ".value", v);
              });
    }

    void list(String name, List<String> values) {
      text.append(name).append("[").append(values.size()).append('\n');
      values.forEach(v -> field(name + ".item", v));
    }

    String sha256() {
      try {
        MessageDigest digest = MessageDigest.getInstance("SHA-256");
        return HexFormat.of()
            .formatHex(digest.digest(text.toString().getBytes(StandardCharsets.UTF_8)));
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException("every Java runtime has SHA-256", e);
      }
    }
  }
}

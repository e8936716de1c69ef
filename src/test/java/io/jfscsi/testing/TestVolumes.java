package io.jfscsi.testing;

import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.juicefs.SecretValue;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** VolumeSettings built directly, so these tests do not depend on the parser's rules. */
public final class TestVolumes {
  public static final String SECRET_KEY = "sk-Very5ecretValue-42";
  public static final String ACCESS_KEY = "AKIA-ACCESS-9931";
  public static final String META_PASSWORD = "p4ssw0rd-meta-77";
  public static final String SESSION_TOKEN = "FwoGZXIvYXdzE-session-5150";

  private TestVolumes() {}

  public static VolumeSettings local(String volumeId, Path dir) {
    Map<String, String> secrets =
        Map.of("name", "localvol", "metaurl", "local://" + dir, "secret-key", SECRET_KEY);
    return settings(
        new VolumeSource(volumeId, secrets, Map.of(), List.of()),
        "local://" + dir,
        Optional.empty(),
        Optional.empty(),
        Optional.of(SECRET_KEY),
        Map.of(),
        List.of(),
        List.of());
  }

  public static VolumeSettings juicefs(String volumeId, List<Path> cacheDirs) {
    String metaurl = "redis://:" + META_PASSWORD + "@127.0.0.1:6379/3";
    Map<String, String> secrets =
        new HashMap<>(
            Map.of(
                "name",
                "jfsvol",
                "metaurl",
                metaurl,
                "storage",
                "file",
                "bucket",
                "/tmp/jfs-bucket",
                "access-key",
                ACCESS_KEY,
                "secret-key",
                SECRET_KEY,
                "format-options",
                "trash-days=0,block-size=4096,session-token=" + SESSION_TOKEN));
    return settings(
        new VolumeSource(volumeId, secrets, Map.of(), List.of()),
        metaurl,
        Optional.of("file"),
        Optional.of(ACCESS_KEY),
        Optional.of(SECRET_KEY),
        Map.of("trash-days", "0", "block-size", "4096", "session-token", SESSION_TOKEN),
        List.of("cache-size=100", "no-usage-report"),
        cacheDirs);
  }

  /** {@code s} with other resources (and the same hash: tests give each volume its own id). */
  public static VolumeSettings withResources(VolumeSettings s, ClientResources r) {
    return new VolumeSettings(
        s.source(),
        s.fsName(),
        s.metaUrl(),
        s.storage(),
        s.bucket(),
        s.accessKey(),
        s.secretKey(),
        s.formatOptions(),
        s.envs(),
        s.configs(),
        s.mountOptions(),
        s.subPath(),
        s.deleteDelay(),
        s.cleanCache(),
        s.cacheDirs(),
        r,
        s.mountImage(),
        s.cachePvc(),
        s.clientHash());
  }

  public static ClientKey keyOf(VolumeSettings s) {
    return new ClientKey(s.volumeId(), s.clientHash());
  }

  private static VolumeSettings settings(
      VolumeSource source,
      String metaurl,
      Optional<String> storage,
      Optional<String> accessKey,
      Optional<String> secretKey,
      Map<String, String> formatOptions,
      List<String> mountOptions,
      List<Path> cacheDirs) {
    return new VolumeSettings(
        source,
        source.secrets().get("name"),
        new SecretValue(metaurl),
        storage,
        Optional.ofNullable(source.secrets().get("bucket")),
        accessKey.map(SecretValue::new),
        secretKey.map(SecretValue::new),
        formatOptions,
        Map.of(),
        Map.of(),
        mountOptions,
        "",
        Duration.ZERO,
        false,
        cacheDirs,
        ClientResources.NONE,
        Optional.empty(),
        Optional.empty(),
        "0123456789abcdef0123456789abcdef");
  }
}

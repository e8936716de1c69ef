package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.MetaPassword;
import io.jfscsi.juicefs.SecretValue;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

/**
 * The Secret of one client and how its pod reads it: every value that came from the volume's Secret
 * is stored here and reaches the container only as an environment variable through {@code
 * secretKeyRef}, so that no secret value is ever in a pod spec. Also holds the raw secret map,
 * which a restarted driver reads back to rebuild the client's settings.
 *
 * @param data the Secret's string data
 * @param env the container's environment variables that read it
 * @param command the settings with every secret value replaced by an environment reference ({@link
 *     ClientCommand#envRef}), for building the container command
 */
public record MountPodSecret(
    String name, Map<String, String> data, List<EnvVar> env, VolumeSettings command) {

  /** Data key of the raw secret map (JSON), read back at load. */
  public static final String SOURCE_KEY = "jfs-csi-source";

  /** Data key of the RSA private key, the Go driver's name for it. */
  public static final String RSA_KEY = "encrypt_rsa_key";

  private static final ObjectMapper JSON = new ObjectMapper();

  public static MountPodSecret of(String name, VolumeSettings s) {
    Map<String, String> data = new TreeMap<>();
    List<EnvVar> env = new ArrayList<>();
    // The secret's envs first: kubelet lets the last of two same-named variables win, and the
    // keys below win over envs, as they do for a client run on the host (ClientCommand).
    int i = 0;
    for (Map.Entry<String, String> e : s.envs().entrySet()) {
      String key = "env-" + i++;
      data.put(key, e.getValue());
      env.add(secretEnv(e.getKey(), name, key));
    }
    Ref ref = new Ref(name, data, env);
    String fsName = ref.put("name", "name", s.fsName());
    // The password reaches juicefs as META_PASSWORD: the shell expands ${metaurl} into argv.
    MetaPassword meta = MetaPassword.split(s.metaUrl().reveal());
    String metaUrl = ref.put("metaurl", "metaurl", meta.url());
    meta.password().ifPresent(p -> ref.put("meta-password", MetaPassword.ENV, p));
    Optional<String> storage = s.storage().map(v -> ref.put("storage", "storage", v));
    Optional<String> bucket = s.bucket().map(v -> ref.put("bucket", "bucket", v));
    Optional<SecretValue> accessKey =
        s.accessKey().map(v -> new SecretValue(ref.put("access-key", "ACCESS_KEY", v.reveal())));
    Optional<SecretValue> secretKey =
        s.secretKey().map(v -> new SecretValue(ref.put("secret-key", "SECRET_KEY", v.reveal())));
    s.sessionToken()
        .ifPresent(t -> ref.put("session-token", ClientCommand.SESSION_TOKEN_ENV, t.reveal()));
    s.passphrase().ifPresent(p -> ref.put("passphrase", ClientCommand.PASSPHRASE_ENV, p.reveal()));
    // A file, not a variable: the pod mounts this key through a Secret volume (MountPodExtras).
    s.encryptRsaKey().ifPresent(k -> data.put(RSA_KEY, k.reveal()));
    Map<String, String> format = new LinkedHashMap<>();
    i = 0;
    for (Map.Entry<String, String> e : s.formatOptions().entrySet()) {
      if (e.getKey().equals("session-token")) {
        continue; // SESSION_TOKEN above; ClientCommand never puts it on the command line
      }
      String value =
          e.getValue().isEmpty()
              ? ""
              : ref.put("format-option-" + i, "JFS_FORMAT_OPTION_" + i, e.getValue());
      format.put(e.getKey(), value);
      i++;
    }
    data.put(SOURCE_KEY, json(s.source().secrets()));
    VolumeSettings command =
        new VolumeSettings(
            s.source(),
            fsName,
            new SecretValue(metaUrl),
            storage,
            bucket,
            accessKey,
            secretKey,
            Collections.unmodifiableMap(format),
            Map.of(),
            s.configs(),
            s.mountOptions(),
            s.subPath(),
            s.deleteDelay(),
            s.cleanCache(),
            s.cacheDirs(),
            s.resources(),
            s.mountImage(),
            s.cachePvc(),
            s.clientHash());
    return new MountPodSecret(name, Map.copyOf(data), List.copyOf(env), command);
  }

  /** The Secret object, labelled as ours. */
  public Secret toSecret(String namespace) {
    return new SecretBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace(namespace)
        .addToLabels(MountPodNames.APP_LABEL, "jfs-csi")
        .endMetadata()
        .withType("Opaque")
        .withStringData(data)
        .build();
  }

  /** The raw secret map stored in a Secret of ours, from its (base64) data. */
  public static Optional<Map<String, String>> sourceSecrets(Secret secret) {
    String encoded = secret.getData() == null ? null : secret.getData().get(SOURCE_KEY);
    if (encoded == null) {
      return Optional.empty();
    }
    String text = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    try {
      return Optional.of(JSON.readValue(text, new TypeReference<Map<String, String>>() {}));
    } catch (JacksonException e) {
      return Optional.empty();
    }
  }

  static EnvVar secretEnv(String envName, String secretName, String key) {
    return new EnvVarBuilder()
        .withName(envName)
        .withNewValueFrom()
        .withNewSecretKeyRef()
        .withName(secretName)
        .withKey(key)
        .endSecretKeyRef()
        .endValueFrom()
        .build();
  }

  private static String json(Map<String, String> map) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(map));
    } catch (JacksonException e) {
      throw new IllegalStateException(e);
    }
  }

  private record Ref(String secretName, Map<String, String> data, List<EnvVar> env) {
    String put(String key, String envName, String value) {
      data.put(key, value);
      env.add(secretEnv(envName, secretName, key));
      return ClientCommand.envRef(envName);
    }
  }
}

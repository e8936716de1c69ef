package io.jfscsi.juicefs;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Everything the driver needs to know about one volume, parsed and validated from a {@link
 * VolumeSource}. Parsing refuses bad input with a {@link io.jfscsi.Failure} whose message names the
 * offending key and never its value.
 *
 * @param fsName the JuiceFS file system name (secret key {@code name})
 * @param metaUrl the metadata engine URL (secret key {@code metaurl}); for the embedded default a
 *     local directory, see {@link #localDirectory()}
 * @param mountOptions validated JuiceFS mount options, e.g. {@code cache-size=1024}
 * @param subPath the directory inside the file system that targets see; "" for the root
 * @param clientHash hex SHA-256 of every field that makes a client different (not subPath); two
 *     volumes with the same id and hash share one client
 */
public record VolumeSettings(
    VolumeSource source,
    String fsName,
    SecretValue metaUrl,
    Optional<String> storage,
    Optional<String> bucket,
    Optional<SecretValue> accessKey,
    Optional<SecretValue> secretKey,
    Map<String, String> formatOptions,
    Map<String, String> envs,
    Map<String, String> configs,
    List<String> mountOptions,
    String subPath,
    Duration deleteDelay,
    boolean cleanCache,
    List<Path> cacheDirs,
    ClientResources resources,
    Optional<String> mountImage,
    Optional<String> cachePvc,
    String clientHash) {

  /**
   * The longest {@code juicefs/mount-delete-delay}: a client kept a year after its last use is a
   * leak, not a delay. (Pekko's scheduler holds at most about 248 days; the mount actor waits
   * longer delays out in steps, so that a record written with another bound is still honoured.)
   */
  public static final Duration MAX_DELETE_DELAY = Duration.ofDays(365);

  /** The volume context keys of the delete delay and the cache clean. */
  public static final String DELETE_DELAY_KEY = ContextSettings.DELETE_DELAY;

  public static final String CLEAN_CACHE_KEY = ContextSettings.CLEAN_CACHE;

  public String volumeId() {
    return source.volumeId();
  }

  /** Whether the client mounts read-only ({@code ro} or {@code read-only} in the options). */
  public boolean readOnly() {
    return mountOptions.contains("ro") || mountOptions.contains("read-only");
  }

  /**
   * Never prints a secret: every value that came from the Secret (name, metaurl, storage, bucket,
   * keys) prints as {@code ******}, of the maps that came from it (format options, envs, configs)
   * only their size is shown, and a password in a URL-valued mount option is masked.
   */
  @Override
  public String toString() {
    return "VolumeSettings[volumeId="
        + volumeId()
        + ", fsName=******, metaUrl="
        + metaUrl
        + ", storage="
        + masked(storage)
        + ", bucket="
        + masked(bucket)
        + ", accessKey="
        + masked(accessKey)
        + ", secretKey="
        + masked(secretKey)
        + ", formatOptions="
        + formatOptions.size()
        + " set, envs="
        + envs.size()
        + " set, configs="
        + configs.size()
        + " set, mountOptions="
        + mountOptions.stream().map(ClientCommand::maskUrlPassword).toList()
        + ", subPath="
        + subPath
        + ", deleteDelay="
        + deleteDelay
        + ", cleanCache="
        + cleanCache
        + ", cacheDirs="
        + cacheDirs
        + ", resources="
        + resources
        + ", mountImage="
        + mountImage
        + ", cachePvc="
        + cachePvc
        + ", clientHash="
        + clientHash
        + "]";
  }

  private static String masked(Optional<?> value) {
    return value.isPresent() ? "******" : "-";
  }

  /**
   * The Mount Pod's extra labels, annotations, service account, cache volumes and host paths, from
   * the volume context (checked when these settings were parsed).
   */
  public MountPodKeys mountPodKeys() {
    return MountPodKeys.parse(source.context());
  }

  /**
   * The RSA private key (secret key {@code encrypt_rsa_key}) that {@code juicefs format} encrypts a
   * new volume with, read from a file the runtime writes (checked when these settings were parsed).
   */
  public Optional<SecretValue> encryptRsaKey() {
    return SecretSettings.rsaKeyText(source.secrets().get("encrypt_rsa_key")).map(SecretValue::new);
  }

  /**
   * The key's passphrase (secret key {@code passphrase}), given to juicefs as JFS_RSA_PASSPHRASE.
   */
  public Optional<SecretValue> passphrase() {
    return SecretSettings.passphraseText(source.secrets().get("passphrase")).map(SecretValue::new);
  }

  /**
   * The object storage session token ({@code session-token} in {@code format-options}): a
   * credential, so it reaches {@code juicefs format} only as SESSION_TOKEN in its environment.
   */
  public Optional<SecretValue> sessionToken() {
    return Optional.ofNullable(formatOptions.get(FormatOptions.SESSION_TOKEN))
        .map(SecretValue::new);
  }

  /**
   * The directory that backs this volume in the embedded default: a metaurl of the form {@code
   * local:///abs/dir} or an absolute path names a local directory served through a FUSE passthrough
   * instead of a JuiceFS metadata engine.
   */
  public Optional<Path> localDirectory() {
    String url = metaUrl.reveal();
    if (url.startsWith("local://")) {
      return Optional.of(Path.of(url.substring("local://".length())));
    }
    if (url.startsWith("/")) {
      return Optional.of(Path.of(url));
    }
    return Optional.empty();
  }
}

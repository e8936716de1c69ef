package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.util.List;
import java.util.Optional;

/**
 * Parses and validates {@link VolumeSettings} from a {@link VolumeSource}: the Secret, the volume
 * context and the CSI mount flags, with the key names and formats of the JuiceFS CSI Driver (Go).
 *
 * <p>Everything is checked before anything is built, and every refusal is a {@link
 * Failure.Code#INVALID_ARGUMENT} whose message names the key, says what is wrong and what to do,
 * and never contains a secret value.
 */
public final class SettingsParser {
  private SettingsParser() {}

  public static VolumeSettings parse(VolumeSource source) {
    if (source.volumeId() == null || source.volumeId().isBlank()) {
      throw Failure.invalid("the volume id is missing");
    }
    SecretSettings secret = SecretSettings.parse(source.secrets());
    ContextSettings context = ContextSettings.parse(source.context());
    MountOptions mount =
        MountOptions.parse(source.mountFlags(), context.legacyMountOptions().orElse(null));
    if (context.resources().memoryLimitBytes().filter(limit -> limit > 0).isPresent()) {
      mount = mount.withBufferSizeAtMost(context.resources().memoryLimitBytes().get());
    }
    String hash = ClientHash.of(secret, context, mount);
    return new VolumeSettings(
        source,
        secret.fsName(),
        secret.metaUrl(),
        secret.storage(),
        secret.bucket(),
        secret.accessKey(),
        secret.secretKey(),
        secret.formatOptions(),
        secret.envs(),
        secret.configs(),
        mount.options(),
        context.subPath(),
        context.deleteDelay(),
        context.cleanCache(),
        mount.cacheDirs(),
        context.resources(),
        context.mountImage(),
        context.cachePvc(),
        hash);
  }

  /**
   * A note naming the {@code juicefs/*} volume context keys of {@code source} that are ignored
   * because no JuiceFS CSI driver knows them (a misspelling, most likely), or empty.
   */
  public static Optional<String> ignoredKeys(VolumeSource source) {
    return ContextSettings.unknownKeys(source.context());
  }

  /** Checks mount options given outside a volume (the ConfigMap's {@code mountOptions}). */
  public static void checkMountOptions(List<String> options, String where) {
    MountOptions.parse(List.of(), null).overriddenBy(options, where);
  }

  /**
   * {@code settings} with {@code options} over its mount options by name (the ConfigMap's {@code
   * mountOptions} of a new Mount Pod): checked as every mount option is, the cache directories
   * follow a new {@code cache-dir}, and the settings hash stays the one of the volume (the
   * ConfigMap decides how a new client is built, not which client a publish shares).
   */
  public static VolumeSettings withMountOptions(
      VolumeSettings settings, List<String> options, String where) {
    MountOptions mount =
        new MountOptions(settings.mountOptions(), settings.cacheDirs())
            .overriddenBy(options, where);
    if (settings.resources().memoryLimitBytes().filter(limit -> limit > 0).isPresent()) {
      mount = mount.withBufferSizeAtMost(settings.resources().memoryLimitBytes().get());
    }
    return new VolumeSettings(
        settings.source(),
        settings.fsName(),
        settings.metaUrl(),
        settings.storage(),
        settings.bucket(),
        settings.accessKey(),
        settings.secretKey(),
        settings.formatOptions(),
        settings.envs(),
        settings.configs(),
        mount.options(),
        settings.subPath(),
        settings.deleteDelay(),
        settings.cleanCache(),
        mount.cacheDirs(),
        settings.resources(),
        settings.mountImage(),
        settings.cachePvc(),
        settings.clientHash());
  }
}

package io.jfscsi.juicefs;

import io.jfscsi.Failure;

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
}

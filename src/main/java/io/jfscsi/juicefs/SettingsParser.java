package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Parses and validates {@link VolumeSettings} from a {@link VolumeSource}. (Skeleton: to be completed.) */
public final class SettingsParser {
  private SettingsParser() {}

  public static VolumeSettings parse(VolumeSource source) {
    String name = source.secrets().get("name");
    if (name == null || name.isBlank()) {
      throw Failure.invalid("secret key 'name' is missing");
    }
    String metaurl = source.secrets().get("metaurl");
    if (metaurl == null || metaurl.isBlank()) {
      throw Failure.invalid("secret key 'metaurl' is missing");
    }
    String subPath = source.context().getOrDefault("subPath", "");
    return new VolumeSettings(source, name, new SecretValue(metaurl), Optional.empty(),
        Optional.empty(), Optional.empty(), Optional.empty(), Map.of(), Map.of(), Map.of(),
        List.copyOf(source.mountFlags()), subPath, Duration.ZERO, false, List.of(),
        ClientResources.NONE, Optional.empty(), Optional.empty(),
        Integer.toHexString(metaurl.hashCode()) + "0000000000000");
  }
}

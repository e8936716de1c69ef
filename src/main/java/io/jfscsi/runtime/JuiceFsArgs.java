package io.jfscsi.runtime;

import io.jfscsi.juicefs.SecretValue;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Interim command lines for the real JuiceFS client.
 *
 * <p>TODO(juicefs branch): replace with io.jfscsi.juicefs.ClientCommand once it is merged; this
 * class exists only so the real-JuiceFS path can be built and tested meanwhile. It keeps the
 * object-storage keys out of argv (ACCESS_KEY / SECRET_KEY in the environment, which juicefs
 * reads) because argv is world-readable in /proc.
 */
final class JuiceFsArgs {
  private JuiceFsArgs() {}

  record Command(List<String> argv, Map<String, String> env) {}

  static Command format(Path juicefs, VolumeSettings s) {
    List<String> argv = new ArrayList<>(List.of(juicefs.toString(), "format"));
    s.storage().ifPresent(v -> argv.add("--storage=" + v));
    s.bucket().ifPresent(v -> argv.add("--bucket=" + v));
    s.formatOptions().forEach((k, v) -> argv.add(v.isEmpty() ? "--" + k : "--" + k + "=" + v));
    argv.add(s.metaUrl().reveal());
    argv.add(s.fsName());
    Map<String, String> env = new HashMap<>(s.envs());
    s.accessKey().map(SecretValue::reveal).ifPresent(v -> env.put("ACCESS_KEY", v));
    s.secretKey().map(SecretValue::reveal).ifPresent(v -> env.put("SECRET_KEY", v));
    return new Command(List.copyOf(argv), Map.copyOf(env));
  }

  static Command mount(Path juicefs, VolumeSettings s, Path mountPath) {
    List<String> argv = new ArrayList<>(List.of(juicefs.toString(), "mount"));
    for (String option : s.mountOptions()) {
      argv.add(option.startsWith("-") ? option : "--" + option);
    }
    argv.add(s.metaUrl().reveal());
    argv.add(mountPath.toString());
    return new Command(List.copyOf(argv), Map.copyOf(s.envs()));
  }

  static Command status(Path juicefs, VolumeSettings s) {
    return new Command(List.of(juicefs.toString(), "status", s.metaUrl().reveal()), Map.copyOf(s.envs()));
  }
}

package io.jfscsi.bench;

import io.jfscsi.runtime.local.LocalRuntimeConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine.Option;

/** Options every bench scenario shares. */
final class BenchOptions {

  @Option(
      names = "--endpoint",
      description =
          "the driver's CSI endpoint (required): unix:///path/csi.sock or " + "tcp://host:port")
  String endpoint;

  @Option(
      names = "--kubelet-root",
      description =
          "the driver's kubelet root (required); the bench creates its target "
              + "directories here")
  Path kubeletRoot;

  @Option(
      names = "--data-dir",
      description =
          "embedded default only: the local file system the volumes live in "
              + "(default: a new directory under /var/lib/jfs-csi/local, removed afterwards); "
              + "it must lie beneath the driver's jfs-csi.local.allowed-roots")
  Path dataDir;

  @Option(
      names = "--secret",
      description =
          "node-publish secret key=value (repeatable); "
              + "without metaurl the embedded default is used (metaurl=local://DATA-DIR)")
  Map<String, String> secrets = new LinkedHashMap<>();

  @Option(
      names = "--context",
      description =
          "extra volume context key=value (repeatable); " + "subPath defaults to the volume id")
  Map<String, String> context = new LinkedHashMap<>();

  @Option(
      names = "--driver-pid",
      description =
          "pid of the serve process, for its memory "
              + "(default: the java process running serve with the endpoint on its command line)")
  Long driverPid;

  @Option(names = "--prefix", description = "volume and pod name prefix (default: bench-RANDOM)")
  String prefix;

  @Option(
      names = "--call-timeout",
      defaultValue = "PT130S",
      description = "deadline of each CSI call (ISO-8601, default ${DEFAULT-VALUE})")
  Duration callTimeout;

  /**
   * Checked here, not by picocli: options of {@code bench} marked required would be required of its
   * subcommands' command lines too.
   */
  void check() {
    if (endpoint == null || kubeletRoot == null) {
      throw new IllegalArgumentException("bench needs --endpoint and --kubelet-root");
    }
  }

  String prefix() {
    if (prefix == null) {
      byte[] b = new byte[3];
      ThreadLocalRandom.current().nextBytes(b);
      prefix = "bench-" + HexFormat.of().formatHex(b);
    }
    return prefix;
  }

  Path dataDir() throws IOException {
    if (dataDir == null) {
      // Beneath the driver's default allowed root: a directory elsewhere is refused.
      Files.createDirectories(LocalRuntimeConfig.DEFAULT_LOCAL_ROOT);
      dataDir = Files.createTempDirectory(LocalRuntimeConfig.DEFAULT_LOCAL_ROOT, "bench-data.");
    }
    return dataDir;
  }

  OptionalLong driverPid() {
    return driverPid != null ? OptionalLong.of(driverPid) : Host.driverPid(endpoint);
  }

  Workspace workspace(int volumes) throws IOException {
    return new Workspace(
        prefix(),
        kubeletRoot,
        secrets.containsKey("metaurl") ? Path.of("/nonexistent") : dataDir(),
        volumes,
        secrets,
        context);
  }
}

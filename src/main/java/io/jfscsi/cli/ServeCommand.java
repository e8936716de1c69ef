package io.jfscsi.cli;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import io.jfscsi.Driver;
import java.io.File;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** Runs the driver until SIGTERM / SIGINT; flags override the HOCON configuration. */
@Command(
    name = "serve",
    mixinStandardHelpOptions = true,
    description = "Run the CSI driver (default: node and controller on the embedded runtime).")
final class ServeCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(ServeCommand.class);

  @Option(
      names = "--config",
      description =
          "HOCON file with jfs-csi settings (a .yaml/.yml file is the Go driver's ConfigMap,"
              + " which is read from the API server instead)")
  File configFile;

  @Option(names = "--endpoint", description = "unix:///path/csi.sock or tcp://host:port")
  String endpoint;

  @Option(
      names = {"--node-id", "--nodeid"},
      description =
          "node id reported to the CO " + "(--nodeid as the JuiceFS CSI Driver spells it)")
  String nodeId;

  @Option(names = "--roles", split = ",", description = "node, controller, or both")
  List<String> roles;

  @Option(names = "--kubelet-root", description = "targets must lie under this directory")
  String kubeletRoot;

  @Option(
      names = "--kubelet-registration",
      arity = "0..1",
      description = "serve kubelet's plugin registration (in place of node-driver-registrar)")
  Boolean kubeletRegistration;

  @Option(names = "--mount-root", description = "clients mount under this directory")
  String mountRoot;

  @Option(names = "--state-dir", description = "records of clients and volumes")
  String stateDir;

  @Option(
      names = "--local-root",
      description =
          "a directory beneath which local:// metaurls "
              + "may be served (repeatable; replaces jfs-csi.local.allowed-roots)")
  List<String> localRoots;

  @Mixin GoDriverFlags goFlags = new GoDriverFlags();

  @Override
  public Integer call() throws Exception {
    goFlags.applyLogLevel();
    goFlags.warn();
    if (goConfigMapFile()) {
      log.info(
          "--config {} is the Go driver's ConfigMap file: jfs-csi reads that ConfigMap"
              + " (jfs-csi.kubernetes.config-map) from the API server and watches it",
          configFile);
    }
    Driver driver = Driver.start(config(), ConfiguredHost.parts(config()));
    CountDownLatch stopped = new CountDownLatch(1);
    driver.system().getWhenTerminated().thenRun(stopped::countDown);
    Runtime.getRuntime()
        .addShutdownHook(
            new Thread(
                () -> {
                  driver.close();
                  stopped.countDown();
                },
                "jfs-csi-shutdown"));
    stopped.await();
    return driver.failed() ? 1 : 0;
  }

  Config config() {
    Map<String, Object> overrides = new HashMap<>();
    goFlags.addTo(overrides);
    if (endpoint != null) {
      overrides.put("jfs-csi.endpoint", endpoint);
    }
    if (nodeId != null) {
      overrides.put("jfs-csi.node-id", nodeId);
    }
    if (roles != null) {
      overrides.put("jfs-csi.roles", ConfigValueFactory.fromIterable(roles));
    }
    if (kubeletRoot != null) {
      overrides.put("jfs-csi.kubelet-root", kubeletRoot);
    }
    if (kubeletRegistration != null) {
      overrides.put("jfs-csi.kubelet-registration", kubeletRegistration);
    }
    if (mountRoot != null) {
      overrides.put("jfs-csi.mount-root", mountRoot);
    }
    if (stateDir != null) {
      overrides.put("jfs-csi.state-dir", stateDir);
    }
    if (localRoots != null) {
      overrides.put("jfs-csi.local.allowed-roots", ConfigValueFactory.fromIterable(localRoots));
    }
    Config base =
        configFile == null || goConfigMapFile()
            ? ConfigFactory.load()
            : ConfigFactory.parseFile(configFile).withFallback(ConfigFactory.load()).resolve();
    return ConfigFactory.parseMap(overrides).withFallback(base);
  }

  /**
   * The Go driver's DaemonSet passes {@code --config=/etc/config/config.yaml}, its ConfigMap
   * mounted as a file; that YAML is not HOCON and would fail the start.
   */
  private boolean goConfigMapFile() {
    String name = configFile == null ? "" : configFile.getName();
    return name.endsWith(".yaml") || name.endsWith(".yml");
  }
}

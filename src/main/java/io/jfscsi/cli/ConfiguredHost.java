package io.jfscsi.cli;

import com.typesafe.config.Config;
import io.jfscsi.Driver;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.ContainerRecoveryListener;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.NamespaceRecovery;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.runtime.kube.KubeMountRuntime;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.local.LocalProcessRuntime;
import io.jfscsi.runtime.local.LocalRuntimeConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.Map;
import org.slf4j.LoggerFactory;

/**
 * The host parts the configuration chooses for a driver: kernel mounts, recovery of containers in
 * their own mount namespaces, and clients as local processes or, with {@code jfs-csi.runtime =
 * kubernetes}, as Mount Pods (the provisioner stays local).
 */
public final class ConfiguredHost {
  private ConfiguredHost() {}

  public static Driver.HostParts parts(Config config) {
    Config c = config.getConfig("jfs-csi");
    LocalRuntimeConfig runtime = LocalRuntimeConfig.from(c);
    DriverMetrics metrics = new DriverMetrics();
    LinuxMounter mounter = new LinuxMounter();
    LocalProcessRuntime local = new LocalProcessRuntime(runtime, mounter);
    // Container recoveries are counted in the driver's metrics and, in cluster mode, posted as
    // Events on their pods.
    return switch (c.getString("runtime")) {
      case "local" -> {
        if (c.getBoolean("share-mount.storage-class") && !c.getBoolean("share-mount.file-system")) {
          // Nothing to read a volume's StorageClass from: the mode would silently do nothing.
          LoggerFactory.getLogger(ConfiguredHost.class)
              .warn(
                  "STORAGE_CLASS_SHARE_MOUNT (jfs-csi.share-mount.storage-class) has no effect with"
                      + " jfs-csi.runtime = local: there is no PV to read a volume's StorageClass"
                      + " from; each volume keeps its own client (FS_SHARE_MOUNT works here)");
        }
        yield new Driver.HostParts(local, mounter, containers(runtime, metrics), metrics, local);
      }
      case "kubernetes" -> {
        KubeMountRuntime kube =
            KubeMountRuntime.connect(
                KubeRuntimeConfig.from(c, nodeName(c)),
                mounter,
                c.getDuration("kubernetes.pod-gone-grace"));
        metrics.countKubernetesRequests(kube.requests()::snapshot);
        metrics.configLoads(
            () -> kube.globalConfig().status().lastLoadSucceeded(),
            () ->
                Map.of(
                    "accepted", kube.globalConfig().status().accepted(),
                    "refused", kube.globalConfig().status().refused()));
        ContainerRecovery containers =
            containers(
                runtime, ContainerRecoveryListener.all(List.of(metrics, kube.recoveryEvents())));
        yield new Driver.HostParts(kube, mounter, containers, metrics, local);
      }
      default ->
          throw new IllegalArgumentException(
              "jfs-csi.runtime must be local or kubernetes,"
                  + " not '"
                  + c.getString("runtime")
                  + "'");
    };
  }

  private static ContainerRecovery containers(
      LocalRuntimeConfig runtime, ContainerRecoveryListener listener) {
    return NamespaceRecovery.installedIn(runtime.stateDir().resolve("bin"), listener);
  }

  private static String nodeName(Config c) {
    if (!c.getString("node-id").isEmpty()) {
      return c.getString("node-id");
    }
    try {
      return InetAddress.getLocalHost().getHostName();
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException("set jfs-csi.node-id (NODE_NAME): " + e.getMessage(), e);
    }
  }
}

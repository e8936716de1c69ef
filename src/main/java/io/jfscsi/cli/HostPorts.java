package io.jfscsi.cli;

import com.typesafe.config.Config;
import io.jfscsi.Driver;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.ContainerRecoveryListener;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.runtime.kube.KubeMountRuntime;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.local.LocalProcessRuntime;
import io.jfscsi.runtime.local.LocalRuntimeConfig;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The real host ports for a driver: kernel mounts, and clients as local processes or, with {@code
 * jfs-csi.runtime = kubernetes}, as Mount Pods (the provisioner stays local).
 */
public final class HostPorts {
  private HostPorts() {}

  public static Driver.Ports of(Config config) {
    Config c = config.getConfig("jfs-csi");
    LocalRuntimeConfig runtime = LocalRuntimeConfig.from(c);
    // Container recoveries are counted in the driver's metrics and, in cluster mode, posted as
    // Events on their pods (the runtime that knows the pods is made after the mounter).
    DriverMetrics metrics = new DriverMetrics();
    AtomicReference<ContainerRecoveryListener> events =
        new AtomicReference<>(ContainerRecoveryListener.NONE);
    ContainerRecoveryListener listeners =
        ContainerRecoveryListener.all(List.of(metrics, outcome -> events.get().onOutcome(outcome)));
    LinuxMounter mounter =
        new LinuxMounter(
            LinuxMounter.DEFAULT_TIMEOUT,
            ContainerRecovery.installedIn(runtime.stateDir().resolve("bin"), listeners));
    LocalProcessRuntime local = new LocalProcessRuntime(runtime, mounter);
    return switch (c.getString("runtime")) {
      case "local" -> new Driver.Ports(local, mounter, metrics);
      case "kubernetes" -> {
        KubeMountRuntime kube =
            KubeMountRuntime.connect(
                KubeRuntimeConfig.from(c, nodeName(c)),
                mounter,
                c.getDuration("kubernetes.pod-gone-grace"));
        events.set(kube.recoveryEvents());
        metrics.countKubernetesRequests(kube.requests()::snapshot);
        yield new Driver.Ports(kube, mounter, metrics, local);
      }
      default ->
          throw new IllegalArgumentException(
              "jfs-csi.runtime must be local or kubernetes,"
                  + " not '"
                  + c.getString("runtime")
                  + "'");
    };
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

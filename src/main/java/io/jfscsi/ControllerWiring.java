package io.jfscsi;

import com.typesafe.config.Config;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.controller.MountedDirectories;
import io.jfscsi.controller.VolumeProvisioner;
import io.jfscsi.controller.kube.BuiltinProvisioner;
import io.jfscsi.controller.kube.ControllerConfigMap;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.management.ManagementContext;
import io.jfscsi.management.ManagementServer;
import io.jfscsi.management.cluster.ClusterPage;
import java.io.IOException;
import java.nio.file.Path;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;

/**
 * The controller role's parts around its provisioner: where the global ConfigMap's quota switches
 * come from, the provisioner's behaviour, and in cluster mode the built-in provisioner with its
 * cluster page.
 */
final class ControllerWiring {
  private ControllerWiring() {}

  /**
   * The controller reads the global ConfigMap itself unless its runtime does (the kubernetes
   * runtime watches it for its Mount Pods); none without the controller role.
   */
  static ControllerConfigMap configMap(Config c, boolean controller) {
    return controller && !"kubernetes".equals(c.getString("runtime"))
        ? ControllerConfigMap.start(c, System.getenv())
        : ControllerConfigMap.DEFAULTS;
  }

  /** The quota switches of the ConfigMap as this controller reads it. */
  static Supplier<QuotaSwitches> quotaSwitches(ControllerConfigMap own, MountRuntime runtime) {
    return own == ControllerConfigMap.DEFAULTS ? runtime::quotaSwitches : own;
  }

  /** The provisioner, whose short-lived clients may take their ready and command timeouts. */
  static Behavior<VolumeProvisioner.Command> provisioner(
      Config c, Path stateDir, Driver.HostParts host, Supplier<QuotaSwitches> quotaSwitches) {
    return VolumeProvisioner.create(
        new MountedDirectories(
            host.provisionerRuntime(),
            c.getDuration("client.ready-timeout")
                .plus(c.getDuration("client.command-timeout"))
                .plusSeconds(10)),
        VolumeProvisioner.catalog(stateDir),
        host.provisionerRuntime(),
        quotaSwitches);
  }

  /**
   * Cluster mode: the built-in provisioner (leader-elected) beside the CSI Controller service, and
   * its cluster page on the management server when there is one.
   */
  static void startBuiltinProvisioner(
      ActorSystem<?> system,
      Config c,
      ActorRef<VolumeProvisioner.Command> provisioner,
      DriverMetrics metrics,
      ManagementServer management)
      throws IOException {
    BuiltinProvisioner.startIfConfigured(c, provisioner, system.scheduler())
        .ifPresent(
            builtin -> {
              metrics.provisionerLeader(builtin::leading);
              if (management != null) {
                ClusterPage page = new ClusterPage(builtin.client(), c.getString("driver-name"));
                ManagementContext.get(system).clusterPage(page);
                ShutdownTasks.closeOnUnbind(system, "cluster-page", page::close);
              }
              ShutdownTasks.closeOnUnbind(system, "builtin-provisioner", builtin::close);
            });
  }
}

package io.jfscsi;

import com.typesafe.config.Config;
import io.grpc.ServerServiceDefinition;
import io.jfscsi.csi.Endpoint;
import io.jfscsi.csi.FirstMountQuota;
import io.jfscsi.csi.KubeletRegistration;
import io.jfscsi.csi.NodeService;
import io.jfscsi.csi.Services;
import io.jfscsi.fusefd.FuseFdKeepers;
import io.jfscsi.juicefs.ShareMode;
import io.jfscsi.management.ManagementContext;
import io.jfscsi.mount.MountSettings;
import io.jfscsi.mount.NodeGuardian;
import java.io.IOException;
import java.time.Duration;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.ActorContext;

/**
 * The node role's parts around its guardian: the keepers of the clients' FUSE fds, the CSI Node
 * service with the quota it sets at a volume's first mount, and the registration with kubelet.
 */
final class NodeWiring {
  private NodeWiring() {}

  /**
   * The keepers of the clients' FUSE fds; the runtime opens one per client that passes its fd, so
   * they must be there before the guardian starts or adopts any client.
   */
  static void keepFuseFds(ActorContext<?> ctx, Driver.HostParts host) {
    host.runtime()
        .keepFuseFds(
            FuseFdKeepers.keeping(
                ctx.spawn(FuseFdKeepers.create(), "fuse-fd-keepers"), ctx.getSystem()));
  }

  /** CSI Node, asking {@code guardian}; its first-mount quotas stop with the driver. */
  static ServerServiceDefinition service(
      ActorSystem<?> system,
      Config c,
      Driver.HostParts host,
      ActorRef<NodeGuardian.Command> guardian,
      MountSettings mountSettings,
      String nodeId) {
    FirstMountQuota firstMountQuota =
        new FirstMountQuota(
            host.provisionerRuntime(),
            host.runtime()::quotaSwitches,
            host.runtime()::volumeCapacity,
            Duration.ofSeconds(2));
    ShutdownTasks.closeOnUnbind(system, "first-mount-quota", firstMountQuota::close);
    return Services.node(
        new NodeService(
            guardian,
            system.scheduler(),
            c.getDuration("call-timeout"),
            nodeId,
            mountSettings.kubeletRoot(),
            host.runtime()::withClaim,
            firstMountQuota,
            ShareMode.from(c),
            host.runtime()::storageClassOf));
  }

  /**
   * Kubelet learns of the CSI socket from the driver itself (no registrar sidecar) when {@code
   * kubelet-registration} is on; a refusal is shown by the management server.
   */
  static void registerWithKubelet(ActorSystem<?> system, Config c, MountSettings mountSettings)
      throws IOException {
    if (!c.getBoolean("kubelet-registration")) {
      return;
    }
    KubeletRegistration registration =
        KubeletRegistration.start(
            mountSettings.kubeletRoot(),
            c.getString("driver-name"),
            Endpoint.parse(c.getString("endpoint")),
            c.getDuration("shutdown-grace"));
    ManagementContext.get(system).registrationRefusal(registration::refusal);
    ShutdownTasks.closeOnUnbind(system, "kubelet-registration", registration::close);
  }
}

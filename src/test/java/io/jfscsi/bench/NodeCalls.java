package io.jfscsi.bench;

import csi.v1.NodeGetCapabilitiesRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodeGetVolumeStatsResponse;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.grpc.StatusRuntimeException;
import io.jfscsi.csi.CsiClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The Node and Identity calls a kubelet makes, over one channel (as kubelet uses one). */
final class NodeCalls {

  /** One volume as kubelet would publish it: id, node-publish secrets, volume context. */
  record Volume(String id, Map<String, String> secrets, Map<String, String> context) {}

  private static final VolumeCapability CAPABILITY =
      VolumeCapability.newBuilder()
          .setMount(VolumeCapability.MountVolume.getDefaultInstance())
          .setAccessMode(
              VolumeCapability.AccessMode.newBuilder()
                  .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER))
          .build();

  private final CsiClient client;
  private final Duration deadline;

  NodeCalls(CsiClient client, Duration deadline) {
    this.client = client;
    this.deadline = deadline;
  }

  void publish(Volume volume, Path target) {
    client
        .node()
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .nodePublishVolume(
            NodePublishVolumeRequest.newBuilder()
                .setVolumeId(volume.id())
                .setTargetPath(target.toString())
                .setVolumeCapability(CAPABILITY)
                .putAllSecrets(volume.secrets())
                .putAllVolumeContext(volume.context())
                .build());
  }

  void unpublish(Volume volume, Path target) {
    client
        .node()
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volume.id())
                .setTargetPath(target.toString())
                .build());
  }

  NodeGetVolumeStatsResponse stats(Volume volume, Path target) {
    return client
        .node()
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .nodeGetVolumeStats(
            NodeGetVolumeStatsRequest.newBuilder()
                .setVolumeId(volume.id())
                .setVolumePath(target.toString())
                .build());
  }

  /** NodeGetCapabilities: a call the driver answers without any actor, the gRPC round trip. */
  void capabilities() {
    client
        .node()
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .nodeGetCapabilities(NodeGetCapabilitiesRequest.getDefaultInstance());
  }

  /** Probe over this channel: true when the plugin says ready. */
  boolean ready() {
    return client
        .identity()
        .withDeadlineAfter(deadline.toMillis(), TimeUnit.MILLISECONDS)
        .probe(ProbeRequest.getDefaultInstance())
        .getReady()
        .getValue();
  }

  /**
   * Probe over a fresh connection: after a driver restart a long-lived channel sits in its
   * reconnect backoff (up to seconds), which would be measured instead of the driver.
   */
  static boolean readyOnFreshConnection(String endpoint, Duration timeout) {
    try (CsiClient fresh = CsiClient.connect(endpoint)) {
      return fresh
          .identity()
          .withDeadlineAfter(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .probe(ProbeRequest.getDefaultInstance())
          .getReady()
          .getValue();
    } catch (StatusRuntimeException e) {
      return false;
    }
  }
}

package io.jfscsi.csi;

import csi.v1.Node;
import csi.v1.NodeExpandVolumeRequest;
import csi.v1.NodeExpandVolumeResponse;
import csi.v1.NodeGetCapabilitiesRequest;
import csi.v1.NodeGetCapabilitiesResponse;
import csi.v1.NodeGetInfoRequest;
import csi.v1.NodeGetInfoResponse;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodeGetVolumeStatsResponse;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodePublishVolumeResponse;
import csi.v1.NodeServiceCapability;
import csi.v1.NodeStageVolumeRequest;
import csi.v1.NodeStageVolumeResponse;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeResponse;
import csi.v1.NodeUnstageVolumeRequest;
import csi.v1.NodeUnstageVolumeResponse;
import csi.v1.VolumeCondition;
import csi.v1.VolumeUsage;
import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.ShareMode;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.mount.NodeGuardian;
import io.jfscsi.mount.TargetStats;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The CSI Node service: validates each request, turns it into one message for the {@link
 * NodeGuardian}, and maps the answer. Holds no state. A refusal is thrown as a {@link Failure};
 * {@link GrpcBridge} turns a throw and a failed answer alike into the status.
 */
public final class NodeService implements Node {
  private static final Logger log = LoggerFactory.getLogger(NodeService.class);

  private final ActorRef<NodeGuardian.Command> guardian;
  private final Scheduler scheduler;
  private final Duration timeout;
  private final String nodeId;
  private final Path kubeletRoot;
  private final UnaryOperator<VolumeSource> claimSettings;
  private final FirstMountQuota quota;
  private final ShareMode shareMode;
  private final Function<VolumeSource, Optional<String>> storageClassOf;

  public NodeService(
      ActorRef<NodeGuardian.Command> guardian,
      Scheduler scheduler,
      Duration timeout,
      String nodeId,
      Path kubeletRoot) {
    this(
        guardian,
        scheduler,
        timeout,
        nodeId,
        kubeletRoot,
        UnaryOperator.identity(),
        FirstMountQuota.off(),
        ShareMode.NONE,
        source -> Optional.empty());
  }

  /**
   * {@code claimSettings} adds what the volume's claim and this node say to a publish's source (the
   * runtime's {@link io.jfscsi.client.MountRuntime#withClaim}); {@code quota} sets a volume's quota
   * after its publish when that is the node's job; {@code shareMode} says which volumes share a
   * client, with the StorageClass of a volume from {@code storageClassOf} (the runtime's {@link
   * io.jfscsi.client.MountRuntime#storageClassOf}), asked only in that mode.
   */
  public NodeService(
      ActorRef<NodeGuardian.Command> guardian,
      Scheduler scheduler,
      Duration timeout,
      String nodeId,
      Path kubeletRoot,
      UnaryOperator<VolumeSource> claimSettings,
      FirstMountQuota quota,
      ShareMode shareMode,
      Function<VolumeSource, Optional<String>> storageClassOf) {
    this.claimSettings = claimSettings;
    this.quota = quota;
    this.shareMode = shareMode;
    this.storageClassOf = storageClassOf;
    this.guardian = guardian;
    this.scheduler = scheduler;
    this.timeout = timeout;
    this.nodeId = nodeId;
    this.kubeletRoot = kubeletRoot.toAbsolutePath().normalize();
  }

  @Override
  public CompletionStage<NodePublishVolumeResponse> nodePublishVolume(NodePublishVolumeRequest in) {
    String volumeId = RequestChecks.volumeId("volume_id", in.getVolumeId());
    Path target = RequestChecks.targetPath("target_path", in.getTargetPath(), kubeletRoot);
    if (!in.hasVolumeCapability()) {
      throw Failure.invalid("volume_capability is required");
    }
    RequestChecks.capability(in.getVolumeCapability());
    VolumeSource source =
        claimSettings.apply(
            new VolumeSource(
                volumeId,
                in.getSecretsMap(),
                in.getVolumeContextMap(),
                in.getVolumeCapability().getMount().getMountFlagsList()));
    VolumeSettings settings = SettingsParser.parse(source);
    SettingsParser.ignoredKeys(source).ifPresent(note -> log.warn("volume {}: {}", volumeId, note));
    // A read-only client (mount option ro) is a client of its own; the CSI readonly flag and
    // reader-only access modes only make this target's bind read-only.
    boolean readOnly =
        in.getReadonly()
            || RequestChecks.readOnlyMode(in.getVolumeCapability())
            || settings.readOnly();
    // The first part of the key: the volume, or in a share mode its StorageClass or file system.
    Optional<String> storageClass =
        shareMode.storageClass() && !shareMode.fileSystem()
            ? storageClassOf.apply(settings.source())
            : Optional.empty();
    ClientKey key =
        new ClientKey(shareMode.uniqueId(settings, storageClass), settings.clientHash());
    return Asks.<NodeGuardian.Command, Done>askWithStatus(
            guardian,
            reply -> new NodeGuardian.Publish(key, settings, target, readOnly, reply),
            timeout,
            scheduler)
        .thenApply(
            done -> {
              quota.published(settings);
              return NodePublishVolumeResponse.getDefaultInstance();
            });
  }

  @Override
  public CompletionStage<NodeUnpublishVolumeResponse> nodeUnpublishVolume(
      NodeUnpublishVolumeRequest in) {
    String volumeId = RequestChecks.volumeId("volume_id", in.getVolumeId());
    Path target = RequestChecks.targetPath("target_path", in.getTargetPath(), kubeletRoot);
    return Asks.<NodeGuardian.Command, Done>askWithStatus(
            guardian,
            reply -> new NodeGuardian.Unpublish(volumeId, target, reply),
            timeout,
            scheduler)
        .thenApply(done -> NodeUnpublishVolumeResponse.getDefaultInstance());
  }

  @Override
  public CompletionStage<NodeGetVolumeStatsResponse> nodeGetVolumeStats(
      NodeGetVolumeStatsRequest in) {
    String volumeId = RequestChecks.volumeId("volume_id", in.getVolumeId());
    if (in.getVolumePath().isEmpty()) {
      throw Failure.invalid("volume_path is required");
    }
    Path path = RequestChecks.path("volume_path", in.getVolumePath()).normalize();
    return Asks.<NodeGuardian.Command, TargetStats>askWithStatus(
            guardian,
            reply -> new NodeGuardian.VolumeStats(volumeId, path, reply),
            timeout,
            scheduler)
        .thenApply(NodeService::statsResponse);
  }

  private static NodeGetVolumeStatsResponse statsResponse(TargetStats stats) {
    var response =
        NodeGetVolumeStatsResponse.newBuilder()
            .setVolumeCondition(
                VolumeCondition.newBuilder()
                    .setAbnormal(stats.abnormal())
                    .setMessage(stats.condition()));
    stats
        .usage()
        .ifPresent(
            u ->
                response
                    .addUsage(
                        VolumeUsage.newBuilder()
                            .setUnit(VolumeUsage.Unit.BYTES)
                            .setTotal(u.totalBytes())
                            .setAvailable(u.availableBytes())
                            .setUsed(u.usedBytes()))
                    .addUsage(
                        VolumeUsage.newBuilder()
                            .setUnit(VolumeUsage.Unit.INODES)
                            .setTotal(u.totalInodes())
                            .setAvailable(u.freeInodes())
                            .setUsed(u.usedInodes())));
    return response.build();
  }

  @Override
  public CompletionStage<NodeGetCapabilitiesResponse> nodeGetCapabilities(
      NodeGetCapabilitiesRequest in) {
    var response = NodeGetCapabilitiesResponse.newBuilder();
    for (var type :
        List.of(
            NodeServiceCapability.RPC.Type.GET_VOLUME_STATS,
            NodeServiceCapability.RPC.Type.VOLUME_CONDITION,
            NodeServiceCapability.RPC.Type.SINGLE_NODE_MULTI_WRITER)) {
      response.addCapabilities(
          NodeServiceCapability.newBuilder()
              .setRpc(NodeServiceCapability.RPC.newBuilder().setType(type)));
    }
    return CompletableFuture.completedFuture(response.build());
  }

  @Override
  public CompletionStage<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest in) {
    return CompletableFuture.completedFuture(
        NodeGetInfoResponse.newBuilder().setNodeId(nodeId).build());
  }

  @Override
  public CompletionStage<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest in) {
    return Unimplemented.call("NodeStageVolume");
  }

  @Override
  public CompletionStage<NodeUnstageVolumeResponse> nodeUnstageVolume(NodeUnstageVolumeRequest in) {
    return Unimplemented.call("NodeUnstageVolume");
  }

  @Override
  public CompletionStage<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest in) {
    return Unimplemented.call("NodeExpandVolume");
  }
}

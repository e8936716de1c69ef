package io.jfscsi.csi;

import com.google.protobuf.Timestamp;
import csi.v1.*;
import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.controller.SnapshotHandle;
import io.jfscsi.controller.VolumeProvisioner;
import io.jfscsi.controller.VolumeSnapshots;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;

/**
 * The CSI Controller service: dynamic provisioning of a sub-directory per volume, its expansion (a
 * directory quota), and snapshots of it (copies in the file system) that new volumes start from.
 * Validates each request and asks the {@link VolumeProvisioner}; every RPC it does not offer
 * answers UNIMPLEMENTED.
 */
public final class ControllerService implements Controller {

  private final ActorRef<VolumeProvisioner.Command> provisioner;
  private final Scheduler scheduler;
  private final Duration timeout;

  public ControllerService(
      ActorRef<VolumeProvisioner.Command> provisioner, Scheduler scheduler, Duration timeout) {
    this.provisioner = provisioner;
    this.scheduler = scheduler;
    this.timeout = timeout;
  }

  @Override
  public CompletionStage<CreateVolumeResponse> createVolume(CreateVolumeRequest in) {
    String name = RequestChecks.volumeId("name", in.getName());
    RequestChecks.capabilities(in.getVolumeCapabilitiesList());
    Optional<SnapshotHandle> fromSnapshot = contentSource(in);
    long required = in.getCapacityRange().getRequiredBytes();
    long limit = in.getCapacityRange().getLimitBytes();
    if (required < 0 || limit < 0) {
      throw Failure.invalid("capacity_range must not be negative");
    }
    if (limit > 0 && required > limit) {
      throw new Failure(
          Failure.Code.OUT_OF_RANGE,
          "capacity_range.required_bytes " + required + " exceeds limit_bytes " + limit);
    }
    if (in.getMutableParamsCount() > 0) {
      throw Failure.invalid(
          "mutable_parameters need the MODIFY_VOLUME capability, which this "
              + "driver does not offer");
    }
    return Asks.<VolumeProvisioner.Command, VolumeProvisioner.Created>askWithStatus(
            provisioner,
            reply ->
                new VolumeProvisioner.Create(
                    name,
                    in.getParametersMap(),
                    in.getSecretsMap(),
                    required,
                    name,
                    in.getVolumeCapabilitiesList().stream()
                        .flatMap(c -> c.getMount().getMountFlagsList().stream())
                        .distinct()
                        .toList(),
                    fromSnapshot,
                    reply),
            timeout,
            scheduler)
        .thenApply(
            created ->
                CreateVolumeResponse.newBuilder()
                    .setVolume(
                        Volume.newBuilder()
                            .setVolumeId(created.volumeId())
                            .setCapacityBytes(created.capacityBytes())
                            .putAllVolumeContext(created.context())
                            .mergeContentSource(in.getVolumeContentSource()))
                    .build());
  }

  /**
   * The snapshot a new volume starts from. A handle that is not one of this driver's (or the Go
   * driver's) names no snapshot that exists: NOT_FOUND, as the specification asks.
   */
  private static Optional<SnapshotHandle> contentSource(CreateVolumeRequest in) {
    if (!in.hasVolumeContentSource()) {
      return Optional.empty();
    }
    VolumeContentSource source = in.getVolumeContentSource();
    if (source.hasVolume()) {
      throw Failure.invalid(
          "volume_content_source.volume (cloning a volume) is not supported: take a"
              + " VolumeSnapshot of the volume and create the new one from it");
    }
    if (!source.hasSnapshot()) {
      throw Failure.invalid("volume_content_source names neither a snapshot nor a volume");
    }
    String id = source.getSnapshot().getSnapshotId();
    if (id.isEmpty()) {
      throw Failure.invalid("volume_content_source.snapshot.snapshot_id is required");
    }
    return Optional.of(
        SnapshotHandle.parse(id)
            .orElseThrow(
                () ->
                    Failure.notFound(
                        "snapshot "
                            + Quoted.of(id)
                            + " does not exist: ids of this driver are"
                            + " <name>|<source volume id>")));
  }

  @Override
  public CompletionStage<DeleteVolumeResponse> deleteVolume(DeleteVolumeRequest in) {
    String id = RequestChecks.volumeId("volume_id", in.getVolumeId());
    return Asks.<VolumeProvisioner.Command, Done>askWithStatus(
            provisioner,
            reply -> new VolumeProvisioner.Delete(id, in.getSecretsMap(), reply),
            timeout,
            scheduler)
        .thenApply(done -> DeleteVolumeResponse.getDefaultInstance());
  }

  @Override
  public CompletionStage<ValidateVolumeCapabilitiesResponse> validateVolumeCapabilities(
      ValidateVolumeCapabilitiesRequest in) {
    String id = RequestChecks.volumeId("volume_id", in.getVolumeId());
    if (in.getVolumeCapabilitiesCount() == 0) {
      throw Failure.invalid("volume_capabilities are required");
    }
    return Asks.<VolumeProvisioner.Command, Boolean>askWithStatus(
            provisioner,
            reply ->
                new VolumeProvisioner.Lookup(id, in.getParametersMap(), in.getSecretsMap(), reply),
            timeout,
            scheduler)
        .thenApply(
            known -> {
              if (!known) {
                throw Failure.notFound("volume " + id + " does not exist");
              }
              var response = ValidateVolumeCapabilitiesResponse.newBuilder();
              for (VolumeCapability c : in.getVolumeCapabilitiesList()) {
                String problem = RequestChecks.unsupported(c);
                if (problem != null) {
                  return response.setMessage(problem).build();
                }
              }
              return response
                  .setConfirmed(
                      ValidateVolumeCapabilitiesResponse.Confirmed.newBuilder()
                          .putAllVolumeContext(in.getVolumeContextMap())
                          .addAllVolumeCapabilities(in.getVolumeCapabilitiesList())
                          .putAllParameters(in.getParametersMap()))
                  .build();
            });
  }

  @Override
  public CompletionStage<ControllerGetCapabilitiesResponse> controllerGetCapabilities(
      ControllerGetCapabilitiesRequest in) {
    var response = ControllerGetCapabilitiesResponse.newBuilder();
    for (var type :
        List.of(
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT)) {
      response.addCapabilities(
          ControllerServiceCapability.newBuilder()
              .setRpc(ControllerServiceCapability.RPC.newBuilder().setType(type)));
    }
    return CompletableFuture.completedFuture(response.build());
  }

  @Override
  public CompletionStage<ControllerPublishVolumeResponse> controllerPublishVolume(
      ControllerPublishVolumeRequest in) {
    return Unimplemented.call("ControllerPublishVolume");
  }

  @Override
  public CompletionStage<ControllerUnpublishVolumeResponse> controllerUnpublishVolume(
      ControllerUnpublishVolumeRequest in) {
    return Unimplemented.call("ControllerUnpublishVolume");
  }

  @Override
  public CompletionStage<ListVolumesResponse> listVolumes(ListVolumesRequest in) {
    return Unimplemented.call("ListVolumes");
  }

  @Override
  public CompletionStage<GetCapacityResponse> getCapacity(GetCapacityRequest in) {
    return Unimplemented.call("GetCapacity");
  }

  /**
   * Copies the volume's directory to {@code .snapshots/<volume>/<name>}, as the Go driver does, and
   * answers once the copy is whole: ready_to_use is always true.
   */
  @Override
  public CompletionStage<CreateSnapshotResponse> createSnapshot(CreateSnapshotRequest in) {
    String name = RequestChecks.volumeId("name", in.getName());
    String source = RequestChecks.volumeId("source_volume_id", in.getSourceVolumeId());
    if (name.indexOf('|') >= 0 || source.indexOf('|') >= 0) {
      throw Failure.invalid(
          "name and source_volume_id must not contain '|', which separates them in a snapshot id");
    }
    return Asks.<VolumeProvisioner.Command, VolumeSnapshots.SnapshotMade>askWithStatus(
            provisioner,
            reply ->
                new VolumeSnapshots.CreateSnapshot(name, source, null, in.getSecretsMap(), reply),
            timeout,
            scheduler)
        .thenApply(
            made ->
                CreateSnapshotResponse.newBuilder()
                    .setSnapshot(
                        Snapshot.newBuilder()
                            .setSnapshotId(made.handle().id())
                            .setSourceVolumeId(made.handle().sourceVolumeId())
                            .setSizeBytes(made.sizeBytes())
                            .setCreationTime(
                                Timestamp.newBuilder()
                                    .setSeconds(made.created().getEpochSecond())
                                    .setNanos(made.created().getNano()))
                            .setReadyToUse(true))
                    .build());
  }

  @Override
  public CompletionStage<DeleteSnapshotResponse> deleteSnapshot(DeleteSnapshotRequest in) {
    if (in.getSnapshotId().isEmpty()) {
      throw Failure.invalid("snapshot_id is required");
    }
    return Asks.<VolumeProvisioner.Command, Done>askWithStatus(
            provisioner,
            reply ->
                new VolumeSnapshots.DeleteSnapshot(in.getSnapshotId(), in.getSecretsMap(), reply),
            timeout,
            scheduler)
        .thenApply(done -> DeleteSnapshotResponse.getDefaultInstance());
  }

  @Override
  public CompletionStage<ListSnapshotsResponse> listSnapshots(ListSnapshotsRequest in) {
    return Unimplemented.call("ListSnapshots");
  }

  @Override
  public CompletionStage<GetSnapshotResponse> getSnapshot(GetSnapshotRequest in) {
    return Unimplemented.call("GetSnapshot");
  }

  /**
   * Raises the volume's directory quota. A quota changes while the volume is mounted and needs
   * nothing on the node: NodeExpansionRequired is false.
   */
  @Override
  public CompletionStage<ControllerExpandVolumeResponse> controllerExpandVolume(
      ControllerExpandVolumeRequest in) {
    String id = RequestChecks.volumeId("volume_id", in.getVolumeId());
    if (!in.hasCapacityRange()) {
      throw Failure.invalid("capacity_range is required");
    }
    long required = in.getCapacityRange().getRequiredBytes();
    long limit = in.getCapacityRange().getLimitBytes();
    if (required < 0 || limit < 0) {
      throw Failure.invalid("capacity_range must not be negative");
    }
    if (required == 0 && limit == 0) {
      throw Failure.invalid("capacity_range must give required_bytes or limit_bytes");
    }
    if (limit > 0 && required > limit) {
      throw new Failure(
          Failure.Code.OUT_OF_RANGE,
          "capacity_range.required_bytes " + required + " exceeds limit_bytes " + limit);
    }
    if (in.hasVolumeCapability()) {
      RequestChecks.capability(in.getVolumeCapability());
    }
    long target = required > 0 ? required : limit;
    return Asks.<VolumeProvisioner.Command, VolumeProvisioner.Expanded>askWithStatus(
            provisioner,
            reply ->
                new VolumeProvisioner.Expand(
                    id,
                    null,
                    in.getSecretsMap(),
                    target,
                    in.getVolumeCapability().getMount().getMountFlagsList(),
                    reply),
            timeout,
            scheduler)
        .thenApply(
            expanded ->
                ControllerExpandVolumeResponse.newBuilder()
                    .setCapacityBytes(expanded.capacityBytes())
                    .setNodeExpansionRequired(false)
                    .build());
  }

  @Override
  public CompletionStage<ControllerGetVolumeResponse> controllerGetVolume(
      ControllerGetVolumeRequest in) {
    return Unimplemented.call("ControllerGetVolume");
  }

  @Override
  public CompletionStage<ControllerModifyVolumeResponse> controllerModifyVolume(
      ControllerModifyVolumeRequest in) {
    return Unimplemented.call("ControllerModifyVolume");
  }
}

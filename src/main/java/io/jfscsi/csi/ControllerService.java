package io.jfscsi.csi;

import csi.v1.*;
import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.controller.VolumeProvisioner;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;

/**
 * The CSI Controller service: dynamic provisioning of a sub-directory per volume, and its expansion
 * (a directory quota). Validates each request and asks the {@link VolumeProvisioner}; every RPC it
 * does not offer answers UNIMPLEMENTED.
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
    if (in.hasVolumeContentSource()) {
      throw Failure.invalid("volume_content_source (snapshots and clones) is not supported");
    }
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
                    in.getVolumeCapabilitiesList().stream()
                        .flatMap(c -> c.getMount().getMountFlagsList().stream())
                        .distinct()
                        .toList(),
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
                            .putAllVolumeContext(created.context()))
                    .build());
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
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME)) {
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

  @Override
  public CompletionStage<CreateSnapshotResponse> createSnapshot(CreateSnapshotRequest in) {
    return Unimplemented.call("CreateSnapshot");
  }

  @Override
  public CompletionStage<DeleteSnapshotResponse> deleteSnapshot(DeleteSnapshotRequest in) {
    return Unimplemented.call("DeleteSnapshot");
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

package io.jfscsi.csi;

import com.google.protobuf.BoolValue;
import csi.v1.GetPluginCapabilitiesRequest;
import csi.v1.GetPluginCapabilitiesResponse;
import csi.v1.GetPluginInfoRequest;
import csi.v1.GetPluginInfoResponse;
import csi.v1.Identity;
import csi.v1.PluginCapability;
import csi.v1.ProbeRequest;
import csi.v1.ProbeResponse;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;

/** The CSI Identity service: who the plugin is, what it offers, and whether it is ready. */
public final class IdentityService implements Identity {

  private final String driverName;
  private final String version;
  private final boolean controller;
  private final Supplier<CompletionStage<Boolean>> readiness;

  /**
   * @param readiness answers whether the actors respond and the runtime can start clients
   */
  public IdentityService(
      String driverName,
      String version,
      boolean controller,
      Supplier<CompletionStage<Boolean>> readiness) {
    this.driverName = driverName;
    this.version = version;
    this.controller = controller;
    this.readiness = readiness;
  }

  @Override
  public CompletionStage<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest in) {
    return CompletableFuture.completedFuture(
        GetPluginInfoResponse.newBuilder().setName(driverName).setVendorVersion(version).build());
  }

  @Override
  public CompletionStage<GetPluginCapabilitiesResponse> getPluginCapabilities(
      GetPluginCapabilitiesRequest in) {
    var response = GetPluginCapabilitiesResponse.newBuilder();
    if (controller) {
      response.addCapabilities(
          PluginCapability.newBuilder()
              .setService(
                  PluginCapability.Service.newBuilder()
                      .setType(PluginCapability.Service.Type.CONTROLLER_SERVICE)));
      // A quota grows while the volume is mounted.
      response.addCapabilities(
          PluginCapability.newBuilder()
              .setVolumeExpansion(
                  PluginCapability.VolumeExpansion.newBuilder()
                      .setType(PluginCapability.VolumeExpansion.Type.ONLINE)));
    }
    return CompletableFuture.completedFuture(response.build());
  }

  @Override
  public CompletionStage<ProbeResponse> probe(ProbeRequest in) {
    return readiness
        .get()
        .exceptionally(error -> false)
        .thenApply(ready -> ProbeResponse.newBuilder().setReady(BoolValue.of(ready)).build());
  }
}

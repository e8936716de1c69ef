package io.jfscsi.cli;

import csi.v1.CapacityRange;
import csi.v1.CreateVolumeRequest;
import csi.v1.DeleteVolumeRequest;
import csi.v1.GetPluginInfoRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.grpc.StatusRuntimeException;
import io.jfscsi.csi.CsiClient;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** A command-line CSI client that plays kubelet and the provisioner against any endpoint. */
final class ClientCommands {
  private ClientCommands() {}

  abstract static class Base implements Callable<Integer> {
    @Option(
        names = "--endpoint",
        required = true,
        description = "unix:///path/csi.sock or tcp://host:port")
    String endpoint;

    @Option(names = "--secret", description = "secret key=value (repeatable)")
    Map<String, String> secrets = new LinkedHashMap<>();

    abstract void call(CsiClient client);

    @Override
    public Integer call() {
      try (CsiClient client = CsiClient.connect(endpoint)) {
        call(client);
        return 0;
      } catch (StatusRuntimeException e) {
        System.err.println(e.getStatus().getCode() + ": " + e.getStatus().getDescription());
        return 2;
      }
    }

    static VolumeCapability capability(String accessMode, List<String> mountOptions) {
      return VolumeCapability.newBuilder()
          .setMount(VolumeCapability.MountVolume.newBuilder().addAllMountFlags(mountOptions))
          .setAccessMode(
              VolumeCapability.AccessMode.newBuilder()
                  .setMode(VolumeCapability.AccessMode.Mode.valueOf(accessMode)))
          .build();
    }
  }

  @Command(
      name = "create-volume",
      mixinStandardHelpOptions = true,
      description = "CreateVolume: provision a sub-directory named after the volume.")
  static final class CreateVolume extends Base {
    @Parameters(index = "0", description = "volume name (the PV name)")
    String name;

    @Option(names = "--param", description = "StorageClass parameter key=value (repeatable)")
    Map<String, String> params = new LinkedHashMap<>();

    @Option(names = "--capacity", description = "required bytes", defaultValue = "0")
    long capacity;

    @Option(names = "--access-mode", defaultValue = "MULTI_NODE_MULTI_WRITER")
    String accessMode;

    @Override
    void call(CsiClient client) {
      var volume =
          client
              .controller()
              .createVolume(
                  CreateVolumeRequest.newBuilder()
                      .setName(name)
                      .putAllParameters(params)
                      .putAllSecrets(secrets)
                      .addVolumeCapabilities(capability(accessMode, List.of()))
                      .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(capacity))
                      .build())
              .getVolume();
      System.out.println("volume " + volume.getVolumeId() + " created");
      volume.getVolumeContextMap().forEach((k, v) -> System.out.println("  " + k + "=" + v));
    }
  }

  @Command(
      name = "delete-volume",
      mixinStandardHelpOptions = true,
      description = "DeleteVolume: remove the volume's sub-directory.")
  static final class DeleteVolume extends Base {
    @Parameters(index = "0", description = "volume id")
    String volumeId;

    @Override
    void call(CsiClient client) {
      client
          .controller()
          .deleteVolume(
              DeleteVolumeRequest.newBuilder()
                  .setVolumeId(volumeId)
                  .putAllSecrets(secrets)
                  .build());
      System.out.println("volume " + volumeId + " deleted");
    }
  }

  @Command(
      name = "publish",
      mixinStandardHelpOptions = true,
      description = "NodePublishVolume: bind the volume at a target path.")
  static final class Publish extends Base {
    @Parameters(index = "0", description = "volume id")
    String volumeId;

    @Parameters(index = "1", description = "target path (under the kubelet root)")
    String target;

    @Option(names = "--context", description = "volume context key=value (repeatable)")
    Map<String, String> context = new LinkedHashMap<>();

    @Option(names = "--mount-option", description = "mount option (repeatable)")
    List<String> mountOptions = new ArrayList<>();

    @Option(names = "--read-only", description = "publish read-only")
    boolean readOnly;

    @Option(names = "--access-mode", defaultValue = "MULTI_NODE_MULTI_WRITER")
    String accessMode;

    @Override
    void call(CsiClient client) {
      client
          .node()
          .nodePublishVolume(
              NodePublishVolumeRequest.newBuilder()
                  .setVolumeId(volumeId)
                  .setTargetPath(target)
                  .setReadonly(readOnly)
                  .setVolumeCapability(capability(accessMode, mountOptions))
                  .putAllSecrets(secrets)
                  .putAllVolumeContext(context)
                  .build());
      System.out.println("volume " + volumeId + " published at " + target);
    }
  }

  @Command(
      name = "unpublish",
      mixinStandardHelpOptions = true,
      description = "NodeUnpublishVolume: unbind the volume from a target path.")
  static final class Unpublish extends Base {
    @Parameters(index = "0", description = "volume id")
    String volumeId;

    @Parameters(index = "1", description = "target path")
    String target;

    @Override
    void call(CsiClient client) {
      client
          .node()
          .nodeUnpublishVolume(
              NodeUnpublishVolumeRequest.newBuilder()
                  .setVolumeId(volumeId)
                  .setTargetPath(target)
                  .build());
      System.out.println("volume " + volumeId + " unpublished from " + target);
    }
  }

  @Command(
      name = "stats",
      mixinStandardHelpOptions = true,
      description = "NodeGetVolumeStats: usage and condition of a published target.")
  static final class Stats extends Base {
    @Parameters(index = "0", description = "volume id")
    String volumeId;

    @Parameters(index = "1", description = "published path")
    String path;

    @Override
    void call(CsiClient client) {
      var stats =
          client
              .node()
              .nodeGetVolumeStats(
                  NodeGetVolumeStatsRequest.newBuilder()
                      .setVolumeId(volumeId)
                      .setVolumePath(path)
                      .build());
      stats
          .getUsageList()
          .forEach(
              u ->
                  System.out.println(
                      u.getUnit()
                          + ": total="
                          + u.getTotal()
                          + " used="
                          + u.getUsed()
                          + " available="
                          + u.getAvailable()));
      System.out.println(
          "condition: "
              + (stats.getVolumeCondition().getAbnormal() ? "ABNORMAL" : "normal")
              + " ("
              + stats.getVolumeCondition().getMessage()
              + ")");
    }
  }

  @Command(
      name = "probe",
      mixinStandardHelpOptions = true,
      description = "Probe and GetPluginInfo: is the driver there and ready?")
  static final class Probe extends Base {
    @Override
    void call(CsiClient client) {
      var info = client.identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
      boolean ready =
          client.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue();
      System.out.println(
          info.getName() + " " + info.getVendorVersion() + ": " + (ready ? "ready" : "not ready"));
    }
  }
}

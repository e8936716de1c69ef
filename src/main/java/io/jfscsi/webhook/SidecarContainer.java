package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.ContainerPortBuilder;
import io.fabric8.kubernetes.api.model.VolumeDevice;
import io.fabric8.kubernetes.api.model.VolumeDeviceBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.runtime.kube.ConfigMapPatches;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** A claim's client container in an app pod, made from the Mount Pod's ({@link ClaimSidecars}). */
final class SidecarContainer {
  private SidecarContainer() {}

  /**
   * The Mount Pod's container as a sidecar: named for its place, its volume mounts renamed with the
   * volumes, the mount point made before the client starts (no node plugin makes it here), its
   * metrics port its own, and a postStart hook that returns only once the mount answers, after
   * making the volume's sub-directory in it. Of the ConfigMap's {@code lifecycle}, an exec preStop
   * runs before the driver's stop script; its postStart gives way to that hook, as in the Go
   * driver.
   */
  static Container of(
      Container c,
      String name,
      Map<String, String> renames,
      Path mountPath,
      String subPath,
      int i,
      KubeRuntimeConfig config) {
    List<VolumeMount> mounts = new ArrayList<>();
    for (VolumeMount m : c.getVolumeMounts()) {
      mounts.add(new VolumeMountBuilder(m).withName(renames.get(m.getName())).build());
    }
    List<VolumeDevice> devices = new ArrayList<>();
    if (c.getVolumeDevices() != null) {
      for (VolumeDevice d : c.getVolumeDevices()) {
        devices.add(new VolumeDeviceBuilder(d).withName(renames.get(d.getName())).build());
      }
    }
    String mp = ClientCommand.shellLine(List.of(mountPath.toString()));
    List<String> command = new ArrayList<>(c.getCommand());
    String script = command.getLast();
    int exec = script.lastIndexOf(SidecarScripts.EXEC);
    if (exec < 0) {
      throw new IllegalStateException("the Mount Pod's command does not end with its client");
    }
    command.set(
        command.size() - 1,
        "mkdir -p "
            + mp
            + " && "
            + script.substring(0, exec)
            + " && "
            + SidecarScripts.supervised(
                script.substring(exec + SidecarScripts.EXEC.length()), mountPath));
    return new ContainerBuilder(c)
        .withName(name)
        .withCommand(command)
        .withVolumeMounts(mounts)
        .withVolumeDevices(devices.isEmpty() ? null : devices)
        .withPorts(
            new ContainerPortBuilder()
                .withName(i == 0 ? "metrics" : "metrics-" + i)
                // The Mount Pod's container declares the port its client's options name.
                .withContainerPort(c.getPorts().getFirst().getContainerPort())
                .withProtocol("TCP")
                .build())
        .withNewLifecycle()
        .withNewPostStart()
        .withNewExec()
        .withCommand(
            "sh",
            "-c",
            SidecarScripts.readyScript(mountPath, subPath, config.podReadyTimeout().toSeconds()))
        .endExec()
        .endPostStart()
        .withNewPreStop()
        .withNewExec()
        .withCommand("sh", "-c", configPreStop(c) + SidecarScripts.stopScript(mountPath))
        .endExec()
        .endPreStop()
        .endLifecycle()
        .build();
  }

  /**
   * The ConfigMap's preStop command (an exec; other handlers do not fit in a shell line) run before
   * the driver's stop script, so that it still sees the mount, as on a Mount Pod; "" without one.
   */
  private static String configPreStop(Container c) {
    return ConfigMapPatches.preStopCommand(c)
        .map(cmd -> ClientCommand.shellLine(cmd) + "; ")
        .orElse("");
  }
}

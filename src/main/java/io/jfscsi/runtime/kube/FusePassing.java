package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Lifecycle;
import io.fabric8.kubernetes.api.model.LifecycleBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.fusefd.FuseFdProtocol;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.ClientVersion;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * What a Mount Pod needs to hand its FUSE connection to the driver's keeper (smooth upgrade), as
 * the Go driver gives it: the client's directory {@code <fuse-fd-dir>/<upgrade id>} on the host
 * mounted at /tmp, {@code JFS_SUPER_COMM} naming the keeper's socket there, and the label {@code
 * juicefs-upgrade-uuid}. Only for an image whose client can (CE ≥ 1.2.1 by its tag): an older
 * client, or one whose version is unknown, is left as it was, never given a socket it would
 * misread.
 *
 * <p>Such a pod also gets the handover hook: a preStop command that, when the driver has written
 * the marker {@link #handoverMarker} into the client's directory (an upgrade is under way), sends
 * {@code SIGHUP} to the serving process the marker names and waits for it to exit. That is the Go
 * driver's signal: the client flushes its buffered writes, answers the requests it has read, saves
 * the state of open files ({@code /tmp/state<ppid>.json}, in the same directory, where its
 * successor finds it) and exits, and its supervisor, whose copy of the FUSE fd the keeper took
 * away, exits 0 after it. Done from the preStop hook of the pod's deletion, not from an exec
 * beforehand, because kubelet restarts a container that exits while its pod lives ({@code
 * restartPolicy: Always}), and a restarted old client would take the connection back from the
 * keeper. Without the marker the hook does nothing.
 */
public final class FusePassing {
  private FusePassing() {}

  public static final String ENV = "JFS_SUPER_COMM";
  public static final String LABEL = "juicefs-upgrade-uuid";
  static final String VOLUME = "jfs-fuse-fd";
  static final Path IN_POD = Path.of("/tmp");

  /**
   * The client's id under the fuse-fd directory: fixed in length whatever the volume id, so that
   * the socket's path fits a Unix socket address, and the same for every pod of the client.
   */
  public static String upgradeId(ClientKey key) {
    return SafeNames.sha256(key.volumeId() + "\n" + key.settingsHash()).substring(0, 32);
  }

  /**
   * Gives {@code pod} (built, patched) what fd passing needs when {@code fuseFdDir} is set and its
   * image's client can pass its fd; the directory of the client on the host, if it was given.
   */
  public static Optional<Path> apply(Pod pod, String fuseFdDir, ClientKey key) {
    Container c = pod.getSpec().getContainers().getFirst();
    if (fuseFdDir.isEmpty() || !supported(c.getImage())) {
      return Optional.empty();
    }
    String id = upgradeId(key);
    Path dir = Path.of(fuseFdDir, id);
    c.getEnv()
        .add(
            new EnvVarBuilder()
                .withName(ENV)
                .withValue(IN_POD.resolve(FuseFdProtocol.KEEPER_SOCKET).toString())
                .build());
    c.getVolumeMounts()
        .add(new VolumeMountBuilder().withName(VOLUME).withMountPath(IN_POD.toString()).build());
    pod.getSpec()
        .getVolumes()
        .add(
            new VolumeBuilder()
                .withName(VOLUME)
                .withNewHostPath()
                .withPath(dir.toString())
                .withType("DirectoryOrCreate")
                .endHostPath()
                .build());
    pod.getMetadata().getLabels().put(LABEL, id);
    addHandoverHook(c, pod.getMetadata().getName());
    return Optional.of(dir);
  }

  /** The marker's file name, in the client's directory, that has pod {@code podName} hand over. */
  public static String handoverMarker(String podName) {
    return "jfs-csi-handover." + podName;
  }

  /**
   * The shell line of pod {@code podName}'s handover hook: with the marker, SIGHUP to the process
   * it names and a wait until that process is gone (the container ends with it); else nothing.
   */
  static String handoverScript(String podName) {
    return "f="
        + IN_POD.resolve(handoverMarker(podName))
        + "; [ -f \"$f\" ] || exit 0; p=$(cat \"$f\"); kill -HUP \"$p\" || exit 0;"
        + " while kill -0 \"$p\" 2>/dev/null; do sleep 0.2; done";
  }

  /**
   * Whether {@code pod}'s client goes through the handover hook when the pod is deleted: pods made
   * before it existed, or whose ConfigMap patch gave a preStop that is not a command, do not.
   */
  public static boolean handsOver(Pod pod) {
    String name = pod.getMetadata().getName();
    return pod.getSpec().getContainers().stream()
        .map(Container::getLifecycle)
        .filter(l -> l != null && l.getPreStop() != null && l.getPreStop().getExec() != null)
        .map(l -> l.getPreStop().getExec().getCommand())
        .anyMatch(cmd -> cmd != null && String.join(" ", cmd).contains(handoverMarker(name)));
  }

  /**
   * A ConfigMap patch's exec preStop runs first (as on a sidecar), then the handover step; a
   * patch's preStop that is not a command cannot be chained and stays alone (that pod's upgrade is
   * refused). The patch's lifecycle object is shared by every pod it patches: copied, never
   * changed.
   */
  private static void addHandoverHook(Container c, String podName) {
    Lifecycle theirs = c.getLifecycle();
    Optional<List<String>> command = ConfigMapPatches.preStopCommand(c);
    if (theirs != null && theirs.getPreStop() != null && command.isEmpty()) {
      return;
    }
    String before = command.map(cmd -> ClientCommand.shellLine(cmd) + "; ").orElse("");
    c.setLifecycle(
        new LifecycleBuilder(theirs == null ? new Lifecycle() : theirs)
            .withNewPreStop()
            .withNewExec()
            .withCommand("sh", "-c", before + handoverScript(podName))
            .endExec()
            .endPreStop()
            .build());
  }

  /** The client's directory on the host that {@code pod} mounts at /tmp, if it was given one. */
  public static Optional<Path> dirOf(Pod pod) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> VOLUME.equals(v.getName()) && v.getHostPath() != null)
        .map(v -> Path.of(v.getHostPath().getPath()))
        .findFirst();
  }

  /** Whether {@code image}'s client hands its FUSE fd over, by its tag. */
  public static boolean supported(String image) {
    return ClientVersion.ofImage(image).map(ClientVersion::passesFuseFd).orElse(false);
  }

  /** Whether a running Mount Pod was given the keeper's socket (by this driver or the Go one). */
  public static boolean given(Pod pod) {
    return pod.getSpec().getContainers().stream()
        .flatMap(c -> c.getEnv() == null ? java.util.stream.Stream.empty() : c.getEnv().stream())
        .anyMatch(e -> ENV.equals(e.getName()));
  }
}

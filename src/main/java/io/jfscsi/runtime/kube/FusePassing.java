package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVarBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.VolumeBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.fusefd.FuseFdProtocol;
import io.jfscsi.juicefs.ClientVersion;
import java.nio.file.Path;
import java.util.Optional;

/**
 * What a Mount Pod needs to hand its FUSE connection to the driver's keeper (smooth upgrade), as
 * the Go driver gives it: the client's directory {@code <fuse-fd-dir>/<upgrade id>} on the host
 * mounted at /tmp, {@code JFS_SUPER_COMM} naming the keeper's socket there, and the label {@code
 * juicefs-upgrade-uuid}. Only for an image whose client can (CE ≥ 1.2.1 by its tag): an older
 * client, or one whose version is unknown, is left as it was, never given a socket it would
 * misread.
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
    return Optional.of(dir);
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

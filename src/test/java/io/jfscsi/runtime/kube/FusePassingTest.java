package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Lifecycle;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.jfscsi.client.ClientKey;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class FusePassingTest {
  static final ClientKey KEY = new ClientKey("pvc-1", "0123456789abcdef0123456789abcdef");

  @Test
  void aPodWhoseClientPassesItsFdGetsTheKeepersSocketItsDirectoryAndTheLabel() {
    Pod pod = pod("juicedata/mount:ce-v1.2.3");
    Optional<Path> dir = FusePassing.apply(pod, "/var/run/juicefs-csi", KEY);
    String id = FusePassing.upgradeId(KEY);
    assertThat(dir).contains(Path.of("/var/run/juicefs-csi", id));
    assertThat(id).hasSize(32);
    var c = pod.getSpec().getContainers().getFirst();
    assertThat(c.getEnv())
        .anyMatch(
            e ->
                e.getName().equals("JFS_SUPER_COMM")
                    && e.getValue().equals("/tmp/fuse_fd_csi_comm.sock"));
    assertThat(c.getVolumeMounts())
        .anyMatch(m -> m.getName().equals("jfs-fuse-fd") && m.getMountPath().equals("/tmp"));
    assertThat(FusePassing.dirOf(pod)).isEqualTo(dir);
    assertThat(FusePassing.given(pod)).isTrue();
    assertThat(pod.getMetadata().getLabels()).containsEntry("juicefs-upgrade-uuid", id);
  }

  @Test
  void anOlderUnknownOrDisabledClientIsLeftAsItWas() {
    for (String image :
        new String[] {"juicedata/mount:ce-v1.2.0", "juicedata/mount:ce-nightly", "local/jfs:dev"}) {
      Pod pod = pod(image);
      assertThat(FusePassing.apply(pod, "/var/run/juicefs-csi", KEY)).as(image).isEmpty();
      assertThat(FusePassing.given(pod)).as(image).isFalse();
      assertThat(pod.getSpec().getVolumes()).as(image).isEmpty();
    }
    Pod disabled = pod("juicedata/mount:ce-v1.2.3");
    assertThat(FusePassing.apply(disabled, "", KEY)).isEmpty();
    assertThat(FusePassing.given(disabled)).isFalse();
  }

  @Test
  void theSocketPathFitsAUnixSocketAddressWhateverTheVolumeId() {
    ClientKey longId = new ClientKey("v".repeat(253), "f".repeat(64));
    Path socket =
        Path.of(KubeRuntimeConfig.GO_FUSE_FD_DIR, FusePassing.upgradeId(longId))
            .resolve(io.jfscsi.fusefd.FuseFdProtocol.KEEPER_SOCKET);
    assertThat(socket.toString().length()).isLessThan(108);
  }

  private static Pod pod(String image) {
    return pod("p", image, null);
  }

  /** A bare Mount Pod NAME on IMAGE, its container's LIFECYCLE as a ConfigMap patch left it. */
  static Pod pod(String name, String image, Lifecycle lifecycle) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .addToLabels("app.kubernetes.io/name", "juicefs-mount")
        .endMetadata()
        .withNewSpec()
        .addNewContainer()
        .withName("jfs-mount")
        .withImage(image)
        .withLifecycle(lifecycle)
        .endContainer()
        .endSpec()
        .build();
  }
}

package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class MountPodNamesTest {

  private static final String TARGET =
      "/var/lib/kubelet/pods/1b2c3d4e-0000-1111-2222-333344445555/volumes/kubernetes.io~csi/pv-1/mount";

  @Test
  void referenceKeyIsTheGoDriversSha256CutTo63() {
    String key = MountPodNames.referenceKey(TARGET);
    assertThat(key).hasSize(63).startsWith("juicefs-");
    assertThat(key).isEqualTo(("juicefs-" + MountPodNames.sha256(TARGET)).substring(0, 63));

    assertThat(MountPodNames.isReferenceKey(key)).isTrue();
    assertThat(MountPodNames.isReferenceKey(MountPodNames.DELETE_AT)).isFalse();
    assertThat(MountPodNames.isReferenceKey(MountPodNames.DELETE_DELAY)).isFalse();
    assertThat(MountPodNames.isReferenceKey(MountPodNames.CLEAN_CACHE)).isFalse();
    assertThat(MountPodNames.isReferenceKey(MountPodNames.UNIQUE_ID)).isFalse();
  }

  @Test
  void sha256OfAKnownString() {
    assertThat(MountPodNames.sha256("abc"))
        .isEqualTo("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  }

  @Test
  void podNameFollowsTheGoFormat() {
    String name = MountPodNames.podName("node-1", "pvc-abc", "xyzxyz");
    assertThat(name).isEqualTo("juicefs-node-1-pvc-abc-xyzxyz");
    assertThat(MountPodNames.randomSuffix()).matches("[a-z0-9]{6}");
  }

  @Test
  void longOrOddIdsMakeValidDistinctNames() {
    String longId = "PV_" + "x".repeat(300);
    String a = MountPodNames.podName("Node.One", longId, "abcdef");
    String b = MountPodNames.podName("Node.One", longId + "y", "abcdef");
    assertThat(a)
        .hasSizeLessThanOrEqualTo(253)
        .matches("[a-z0-9]([-a-z0-9.]*[a-z0-9])?")
        .isNotEqualTo(b);
    String label = MountPodNames.volumeLabel(longId);
    assertThat(label)
        .hasSizeLessThanOrEqualTo(63)
        .matches("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
    assertThat(MountPodNames.volumeLabel("pvc-123")).isEqualTo("pvc-123");
    assertThat(MountPodNames.hashLabel("f".repeat(64))).isEqualTo("f".repeat(63));
    ClientKey key = new ClientKey(longId, "a".repeat(64));
    assertThat(MountPodNames.secretName("n1", key))
        .hasSizeLessThanOrEqualTo(253)
        .startsWith("jfs-csi-n1-")
        .endsWith("-aaaaaaaaaaaa-secret");
  }

  @Test
  void mountPathIsOnePerPodUnderTheRoot() {
    Path root = Path.of("/var/lib/juicefs/volume");
    ClientKey key = new ClientKey("pvc-1", "abc");
    assertThat(MountPodNames.mountPath(root, key, "qwerty"))
        .isEqualTo(root.resolve("pvc-1-qwerty"));
    Path odd = MountPodNames.mountPath(root, new ClientKey("../../etc", "abc"), "qwerty");
    assertThat(odd.getParent()).isEqualTo(root);
    assertThat(odd.getFileName().toString()).doesNotStartWith(".").endsWith("-qwerty");
  }
}

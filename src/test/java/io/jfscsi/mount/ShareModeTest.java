package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * Share modes in the actors: the targets of two volumes of one StorageClass (same settings, each
 * its own subPath) reference one client under the class's unique id; each target shows its own
 * volume's directory, through crashes and driver restarts; the client goes only when the targets of
 * both volumes are gone.
 */
class ShareModeTest extends NodeTestBase {

  static final String CLASS = "sc-shared";

  /** A volume of the class: the class's Secret and options, its own subPath. */
  static VolumeSettings ofClass(String volumeId) {
    return SettingsParser.parse(
        new VolumeSource(
            volumeId,
            Map.of("name", "fs-shared", "metaurl", "redis://meta/shared"),
            Map.of("subPath", volumeId),
            List.of()));
  }

  static final VolumeSettings A = ofClass("pvc-a");
  static final VolumeSettings B = ofClass("pvc-b");
  static final ClientKey SHARED = new ClientKey(CLASS, A.clientHash());

  @Test
  void twoVolumesOfOneClassShareOneClientEachTargetShowingItsOwnDirectory() {
    assertThat(B.clientHash()).isEqualTo(A.clientHash());
    Path a1 = node.target("pod-1", "pvc-a");
    Path b1 = node.target("pod-1", "pvc-b");
    Path b2 = node.target("pod-2", "pvc-b");
    assertOk(node.publish(SHARED, A, a1, false));
    assertOk(node.publish(SHARED, B, b1, false));
    assertOk(node.publish(SHARED, B, b2, true));

    assertThat(node.runtime.startCount()).isEqualTo(1);
    RunningClient client = node.runtime.running(SHARED).orElseThrow();
    assertShows(a1, "pvc-a", client);
    assertShows(b1, "pvc-b", client);
    assertShows(b2, "pvc-b", client);
    assertThat(node.mounter.readOnly(b2)).contains(true);
    ClientRecord record = node.runtime.record(SHARED).orElseThrow();
    assertThat(record.targets())
        .containsExactlyInAnyOrder(a1.toString(), b1.toString(), b2.toString());
    assertThat(record.sharedTargets())
        .isEqualTo(
            Map.of(
                b1.toString(), new TargetVolume("pvc-b", "pvc-b"),
                b2.toString(), new TargetVolume("pvc-b", "pvc-b")));
    ClientView view = node.view(SHARED).orElseThrow();
    assertThat(view.serves("pvc-a")).isTrue();
    assertThat(view.serves("pvc-b")).isTrue();
    assertThat(view.targetsOf("pvc-b")).containsExactlyInAnyOrder(b1.toString(), b2.toString());
  }

  @Test
  void theClientGoesOnlyWhenTheTargetsOfBothVolumesAreGone() {
    Path a1 = node.target("pod-1", "pvc-a");
    Path b1 = node.target("pod-1", "pvc-b");
    assertOk(node.publish(SHARED, A, a1, false));
    assertOk(node.publish(SHARED, B, b1, false));

    node.unpublishOk("pvc-a", a1);
    node.guardianBarrier();
    assertThat(node.runtime.isRunning(SHARED)).isTrue();
    assertThat(node.mounter.probe(b1)).isEqualTo(MountState.MOUNTED);
    // The record keeps B's target with B's volume, though A's (the record's source) is gone.
    assertThat(node.runtime.record(SHARED).orElseThrow().sharedTargets())
        .containsEntry(b1.toString(), new TargetVolume("pvc-b", "pvc-b"));

    node.unpublishOk("pvc-b", b1);
    node.awaitGone(SHARED);
    assertThat(node.runtime.startCount()).isEqualTo(1);
  }

  @Test
  void anUnpublishNamingTheOtherVolumeOfTheClientIsRefusedAndUnmountsNothing() {
    Path a1 = node.target("pod-1", "pvc-a");
    Path b1 = node.target("pod-1", "pvc-b");
    assertOk(node.publish(SHARED, A, a1, false));
    assertOk(node.publish(SHARED, B, b1, false));

    assertThat(failureOf(node.unpublish("pvc-b", a1)).code()).isEqualTo(Failure.Code.NOT_FOUND);
    assertThat(failureOf(node.stats(CLASS, a1)).code()).isEqualTo(Failure.Code.NOT_FOUND);
    assertThat(node.mounter.probe(a1)).isEqualTo(MountState.MOUNTED);
    assertOk(node.stats("pvc-a", a1));
    // The same target published again for the other volume of the client is refused too.
    assertThat(failureOf(node.publish(SHARED, B, a1, false)).code())
        .isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertShows(a1, "pvc-a", node.runtime.running(SHARED).orElseThrow());
  }

  @Test
  void aCrashedSharedClientIsRestartedAndEachTargetBoundAgainToItsOwnDirectory() {
    Path a1 = node.target("pod-1", "pvc-a");
    Path b1 = node.target("pod-1", "pvc-b");
    assertOk(node.publish(SHARED, A, a1, false));
    assertOk(node.publish(SHARED, B, b1, true));

    node.runtime.crash(SHARED, "killed");
    node.advance(NodeHarness.MIN_BACKOFF);
    node.awaitView(
        SHARED,
        "is ready after a restart",
        v -> v.state() == ClientState.READY && v.restarts() >= 1);
    RunningClient client = node.runtime.running(SHARED).orElseThrow();
    assertShows(a1, "pvc-a", client);
    assertShows(b1, "pvc-b", client);
    assertThat(node.mounter.readOnly(b1)).contains(true);
  }

  @Test
  void aRestartedDriverRebuildsTheSharedClientAndBindsEachTargetToItsOwnDirectory() {
    Path a1 = node.target("pod-1", "pvc-a");
    Path b1 = node.target("pod-1", "pvc-b");
    Path b2 = node.target("pod-2", "pvc-b");
    assertOk(node.publish(SHARED, A, a1, false));
    assertOk(node.publish(SHARED, B, b1, false));
    assertOk(node.publish(SHARED, B, b2, false));
    // The record's own volume is gone from the node; B's targets remain.
    node.unpublishOk("pvc-a", a1);

    node.stopDriver();
    node.runtime.dieSilently(SHARED); // its binds go stale with it
    node.startDriver();

    node.awaitView(
        SHARED,
        "serves B's targets again",
        v ->
            v.state() == ClientState.READY
                && Set.copyOf(v.targets()).equals(Set.of(b1.toString(), b2.toString())));
    RunningClient client = node.runtime.running(SHARED).orElseThrow();
    assertShows(b1, "pvc-b", client);
    assertShows(b2, "pvc-b", client);
    // kubelet's unpublish names B: the rebuilt routes know each target's volume.
    node.unpublishOk("pvc-b", b1);
    assertThat(failureOf(node.unpublish("pvc-a", b2)).code()).isEqualTo(Failure.Code.NOT_FOUND);
    node.unpublishOk("pvc-b", b2);
    node.awaitGone(SHARED);
  }

  /** {@code target} is bound, live, to {@code subPath} of {@code client}'s file system. */
  private void assertShows(Path target, String subPath, RunningClient client) {
    assertThat(node.mounter.probe(target)).as("%s", target).isEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.sameFileSystem(target, client.mountPath())).as("%s", target).isTrue();
    assertThat(node.mounter.rootOf(target)).as("%s", target).contains("/" + subPath);
    assertThat(node.mounter.liveLayers(target)).as("%s", target).isEqualTo(1);
  }
}

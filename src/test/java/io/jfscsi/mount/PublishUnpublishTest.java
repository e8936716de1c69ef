package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/** Publish and unpublish through the guardian: sharing, idempotency and conflicts. */
class PublishUnpublishTest extends NodeTestBase {

  @Test
  void twoTargetsOfOneVolumeShareOneClientUntilTheLastIsUnpublished() throws Exception {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");

    node.publishOk(v, t1);
    node.publishOk(v, t2);

    assertThat(node.runtime.launchCount()).isEqualTo(1);
    RunningClient client = node.runtime.running(key).orElseThrow();
    assertThat(node.mounter.sameFileSystem(t1, client.mountPath())).isTrue();
    assertThat(node.mounter.sameFileSystem(t2, client.mountPath())).isTrue();
    ClientView view = node.view(key).orElseThrow();
    assertThat(view.state()).isEqualTo(ClientState.READY);
    assertThat(view.targets()).containsExactly(t1.toString(), t2.toString());
    assertThat(view.handle()).contains(client.handle());
    assertThat(node.runtime.record(key).orElseThrow().targets())
        .containsExactlyInAnyOrder(t1.toString(), t2.toString());

    node.unpublishOk("pv-a", t1);
    assertThat(node.mounter.probe(t1)).isEqualTo(MountState.MISSING);
    assertThat(node.runtime.isRunning(key)).isTrue();
    assertThat(node.mounter.isMounted(t2)).isTrue();
    assertThat(node.view(key).orElseThrow().targets()).containsExactly(t2.toString());

    node.unpublishOk("pv-a", t2);
    node.awaitGone(key);
    assertThat(node.runtime.stopCount()).isEqualTo(1);
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(Files.exists(t2)).isFalse();

    // A publish after the client has gone starts a new one.
    node.publishOk(v, t1);
    assertThat(node.runtime.launchCount()).isEqualTo(2);
    RunningClient second = node.runtime.running(key).orElseThrow();
    assertThat(second.handle()).isNotEqualTo(client.handle());
    assertThat(node.mounter.sameFileSystem(t1, second.mountPath())).isTrue();
  }

  @Test
  void concurrentPublishesOfOneVolumeStartOneClient() {
    VolumeSettings v = volume("pv-a");
    List<Path> targets = new ArrayList<>();
    List<TestProbe<StatusReply<Done>>> replies = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      Path t = node.target("pod-" + i, "pv-a");
      targets.add(t);
      replies.add(node.sendPublish(v, t, false));
    }
    replies.forEach(r -> assertOk(r.receiveMessage(NodeHarness.WAIT)));

    assertThat(node.runtime.startCount()).isEqualTo(1);
    assertThat(node.views())
        .singleElement()
        .satisfies(view -> assertThat(view.targets()).hasSize(20));
    targets.forEach(t -> assertThat(node.mounter.isMounted(t)).as("%s", t).isTrue());
  }

  @Test
  void differentVolumesGetClientsOfTheirOwn() {
    VolumeSettings a = volume("pv-a");
    VolumeSettings b = volume("pv-b");
    Path ta = node.target("pod-1", "pv-a");
    Path tb = node.target("pod-1", "pv-b");

    node.publishOk(a, ta);
    node.publishOk(b, tb);

    assertThat(node.runtime.runningClients()).hasSize(2);
    assertThat(node.mounter.sameFileSystem(ta, node.runtime.mountPathOf(key(a)))).isTrue();
    assertThat(node.mounter.sameFileSystem(tb, node.runtime.mountPathOf(key(b)))).isTrue();

    node.unpublishOk("pv-a", ta);
    node.awaitGone(key(a));
    assertThat(node.runtime.isRunning(key(b))).isTrue();
    assertThat(node.mounter.isMounted(tb)).isTrue();
  }

  @Test
  void repeatedPublishOfOneTargetHoldsOneReference() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");

    node.publishOk(v, t);
    node.publishOk(v, t);
    node.publishOk(v, t);

    assertThat(node.mounter.layers(t)).isEqualTo(1);
    assertThat(node.mounter.bindCount()).isEqualTo(1);
    assertThat(node.view(key(v)).orElseThrow().targets()).containsExactly(t.toString());

    // One unpublish releases it: the client goes.
    node.unpublishOk("pv-a", t);
    node.awaitGone(key(v));
  }

  @Test
  void repeatedPublishBindsAgainWhenTheTargetWentStale() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.mounter.markStale(t);

    node.publishOk(v, t);

    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.layers(t)).isEqualTo(1);
    assertThat(node.view(key(v)).orElseThrow().targets()).containsExactly(t.toString());
  }

  @Test
  void repeatedAndUnknownUnpublishesAreOk() throws Exception {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    node.unpublishOk("pv-a", t);
    node.unpublishOk("pv-a", t);
    node.awaitGone(key(v));
    node.unpublishOk("pv-a", t);

    // Never published, not even created.
    node.unpublishOk("pv-x", node.target("pod-9", "pv-x"));
    // A directory kubelet left behind: nothing is mounted there, it is removed.
    Path leftOver = node.target("pod-8", "pv-x");
    Files.createDirectory(leftOver);
    node.unpublishOk("pv-x", leftOver);
    assertThat(Files.exists(leftOver)).isFalse();
    assertThat(node.runtime.startCount()).isEqualTo(1);
  }

  @Test
  void anUnknownTargetThatIsAStaleMountOrHoldsFilesIsReleasedWithoutLosingData() throws Exception {
    // A stale bind nobody references any more (its record could not be read after a restart).
    Path stale = node.target("pod-1", "pv-x");
    Files.createDirectory(stale);
    Path elsewhere = Files.createDirectory(tempDir.resolve("elsewhere"));
    node.mounter.bind(elsewhere, stale, false);
    node.mounter.markStale(stale);
    node.unpublishOk("pv-x", stale);
    assertThat(node.mounter.layers(stale)).isZero();
    assertThat(Files.exists(stale)).isFalse();

    // A plain directory with files in it: not ours to delete, and no reason to fail either
    // (an error would keep the pod terminating for ever).
    Path withFiles = node.target("pod-2", "pv-x");
    Files.createDirectory(withFiles);
    Files.writeString(withFiles.resolve("written-while-unmounted"), "data");
    node.unpublishOk("pv-x", withFiles);
    assertThat(withFiles.resolve("written-while-unmounted")).exists();
  }

  @Test
  void readOnlyAfterReadWriteOnTheSameTargetIsAlreadyExists() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    Failure f = failureOf(node.publish(v, t, true));

    assertThat(f.code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertThat(node.mounter.readOnly(t)).contains(false);
    assertThat(node.mounter.layers(t)).isEqualTo(1);
    assertThat(node.view(key(v)).orElseThrow().targets()).containsExactly(t.toString());
  }

  @Test
  void readWriteAfterReadOnlyOnTheSameTargetIsAlreadyExists() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    assertOk(node.publish(v, t, true));
    assertThat(node.mounter.readOnly(t)).contains(true);

    assertThat(failureOf(node.publish(v, t, false)).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertOk(node.publish(v, t, true));
    assertThat(node.mounter.readOnly(t)).contains(true);
  }

  @Test
  void theSameTargetForAnotherVolumeIsAlreadyExists() {
    VolumeSettings a = volume("pv-a");
    VolumeSettings b = volume("pv-b");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(a, t);

    Failure f = failureOf(node.publish(b, t, false));

    assertThat(f.code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertThat(f.getMessage()).contains("pv-a");
    assertThat(node.runtime.runningClients()).hasSize(1);
    assertThat(node.runtime.isRunning(key(b))).isFalse();
    assertThat(node.mounter.sameFileSystem(t, node.runtime.mountPathOf(key(a)))).isTrue();
  }

  @Test
  void theSameTargetWithOtherSettingsOfTheSameVolumeIsAlreadyExists() {
    VolumeSettings v = volume("pv-a");
    VolumeSettings changed =
        SettingsParser.parse(
            new VolumeSource(
                "pv-a",
                Map.of("name", "fs-pv-a", "metaurl", "redis://other-meta/pv-a"),
                Map.of(),
                List.of()));
    assertThat(key(changed)).isNotEqualTo(key(v));
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    assertThat(failureOf(node.publish(changed, t, false)).code())
        .isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertThat(node.runtime.isRunning(key(changed))).isFalse();
  }

  @Test
  void aTargetThatIsAlreadyAForeignMountPointIsRefused() throws Exception {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    Files.createDirectory(t);
    Path elsewhere = Files.createDirectory(tempDir.resolve("elsewhere"));
    node.mounter.bind(elsewhere, t, false);

    assertThat(failureOf(node.publish(v, t, false)).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);

    // The foreign mount is left alone, and the client started for it does not linger.
    assertThat(node.mounter.rootOf(t)).contains(elsewhere.toString());
    node.awaitGone(key(v));
  }

  @Test
  void anUnpublishOfAForeignBindLeavesItAndItsDirectoryAlone() throws Exception {
    Path elsewhere = Files.createDirectory(tempDir.resolve("elsewhere"));
    // Nobody publishes this volume: the guardian answers.
    Path unknown = node.target("pod-1", "pv-x");
    Files.createDirectory(unknown);
    node.mounter.bind(elsewhere, unknown, false);
    // Its volume has a client for another pod: the client's actor answers.
    VolumeSettings v = volume("pv-a");
    node.publishOk(v, node.target("pod-2", "pv-a"));
    Path notHeld = node.target("pod-3", "pv-a");
    Files.createDirectory(notHeld);
    node.mounter.bind(elsewhere, notHeld, false);
    node.mounter.bind(elsewhere, notHeld, false);

    node.unpublishOk("pv-x", unknown);
    node.unpublishOk("pv-a", notHeld);

    assertThat(node.mounter.layers(unknown)).isEqualTo(1);
    assertThat(node.mounter.layers(notHeld)).isEqualTo(2);
    assertThat(node.mounter.rootOf(notHeld)).contains(elsewhere.toString());
    assertThat(node.view(key(v)).orElseThrow().targets())
        .containsExactly(node.target("pod-2", "pv-a").toString());
  }

  @Test
  void aSubPathThroughASymlinkIsInvalidAndLeavesNothing() throws Exception {
    Path host = Files.createDirectory(tempDir.resolve("host"));
    VolumeSettings linked = volume("pv-a", Map.of("subPath", "escape/made"));
    // Someone who can write to the volume planted a symlink to the host in it.
    Path clientRoot = Files.createDirectories(node.runtime.mountPathOf(key(linked)));
    Files.createSymbolicLink(clientRoot.resolve("escape"), host);
    Path t = node.target("pod-2", "pv-a");

    Failure f = failureOf(node.publish(linked, t, false));

    assertThat(f.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
    assertThat(f.getMessage()).contains("symbolic link");
    assertThat(Files.exists(t)).isFalse();
    assertThat(node.mounter.layers(t)).isZero();
    assertThat(host.resolve("made")).doesNotExist();
  }

  @Test
  void aSubPathIsBoundFromInsideTheClient() {
    VolumeSettings v = volume("pv-a", Map.of("subPath", "apps/one"));
    Path t = node.target("pod-1", "pv-a");

    node.publishOk(v, t);

    assertThat(node.mounter.rootOf(t)).contains("/apps/one");
    assertThat(Files.isDirectory(node.runtime.mountPathOf(key(v)).resolve("apps/one"))).isTrue();
  }

  @Test
  void statsOfAPublishedTargetAndOfAnUnknownOne() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    StatusReply<TargetStats> healthy = node.stats("pv-a", t);
    assertOk(healthy);
    assertThat(healthy.getValue().abnormal()).isFalse();
    assertThat(healthy.getValue().usage()).isPresent();

    assertThat(failureOf(node.stats("pv-a", node.target("pod-2", "pv-a"))).code())
        .isEqualTo(Failure.Code.NOT_FOUND);
    assertThat(failureOf(node.stats("pv-b", t)).code()).isEqualTo(Failure.Code.NOT_FOUND);

    node.mounter.markStale(t);
    StatusReply<TargetStats> stale = node.stats("pv-a", t);
    assertOk(stale);
    assertThat(stale.getValue().abnormal()).isTrue();
    assertThat(stale.getValue().usage()).isEmpty();
  }
}

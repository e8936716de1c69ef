package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeRuntime;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/** Publishes that cannot be completed leave nothing behind; references are saved first. */
class PublishFailureTest extends NodeTestBase {

  @Test
  void aPublishThatFailsToBindLeavesNoReferenceAndNoClient() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.mounter.failNextBind();

    Failure f = failureOf(node.publish(v, t, false));

    assertThat(f.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(f.getMessage()).contains("injected bind failure");
    node.awaitGone(key(v));
    assertThat(node.runtime.record(key(v))).isEmpty();
    assertThat(node.mounter.probe(t))
        .as("the target directory it created")
        .isEqualTo(MountState.MISSING);

    // Nothing is stuck: the next try works.
    node.publishOk(v, t);
    assertThat(node.mounter.isMounted(t)).isTrue();
  }

  @Test
  void aPublishThatFailsToBindKeepsTheOtherTargetsOfTheClient() {
    VolumeSettings v = volume("pv-a");
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.mounter.failNextBind();

    assertThat(failureOf(node.publish(v, t2, false)).code()).isEqualTo(Failure.Code.INTERNAL);

    ClientView view = node.view(key(v)).orElseThrow();
    assertThat(view.state()).isEqualTo(ClientState.READY);
    assertThat(view.targets()).containsExactly(t1.toString());
    assertThat(node.runtime.record(key(v)).orElseThrow().targets()).containsExactly(t1.toString());
    assertThat(node.mounter.isMounted(t1)).isTrue();
    assertThat(node.runtime.stopCount()).isZero();
  }

  @Test
  void aClientThatFailsToStartFailsEveryWaitingPublishWithTheRuntimesFailure() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t1, false);
    TestProbe<StatusReply<Done>> second = node.sendPublish(v, t2, true);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    first.expectNoMessage(Duration.ofMillis(100));
    assertThat(node.awaitState(key, ClientState.STARTING).targets()).isEmpty();

    Failure why =
        new Failure(
            Failure.Code.FAILED_PRECONDITION,
            "volume pv-a: juicefs mount exited 1: no such file system");
    start.fail(why);

    for (TestProbe<StatusReply<Done>> probe : List.of(first, second)) {
      Failure f = failureOf(probe.receiveMessage(NodeHarness.WAIT));
      assertThat(f.code()).isEqualTo(why.code());
      assertThat(f.getMessage()).isEqualTo(why.getMessage());
    }
    node.awaitGone(key);
    assertThat(node.runtime.runningClients()).isEmpty();
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(node.mounter.probe(t1)).isNotEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.probe(t2)).isNotEqualTo(MountState.MOUNTED);
    assertThat(node.runtime.pendingStarts()).isZero();

    // Once the cause is fixed a new publish starts a fresh client.
    node.runtime.releaseStarts();
    node.publishOk(v, t1);
    assertThat(node.runtime.isRunning(key)).isTrue();
  }

  @Test
  void aStartThatFailsAtOnceIsReportedToo() {
    VolumeSettings v = volume("pv-a");
    // Every start fails: whether the actor sees the failure before or after the publish it was
    // started for (both orders happen with a start that fails at once), the publish fails.
    node.runtime.failEveryStart(new Failure(Failure.Code.UNAVAILABLE, "metadata engine down"));

    Failure f = failureOf(node.publish(v, node.target("pod-1", "pv-a"), false));

    assertThat(f.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(f.getMessage()).isEqualTo("metadata engine down");
    node.awaitGone(key(v));
    assertThat(node.runtime.launchCount()).isZero();
  }

  @Test
  void theReferenceIsSavedBeforeThePublishIsAnswered() throws Exception {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    CountDownLatch saving = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    node.runtime.onSave(
        record -> {
          if (record.targets().contains(t.toString())) {
            saving.countDown();
            await(release);
          }
        });

    TestProbe<StatusReply<Done>> reply = node.sendPublish(v, t, false);
    assertThat(saving.await(3, TimeUnit.SECONDS)).as("the reference is being saved").isTrue();
    // While the save is held, no answer may leave the actor.
    reply.expectNoMessage(Duration.ofMillis(300));
    assertThat(node.runtime.record(key).map(r -> r.targets()).orElseThrow())
        .doesNotContain(t.toString());

    release.countDown();
    assertOk(reply.receiveMessage(NodeHarness.WAIT));
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(t.toString());
  }

  @Test
  void aReferenceThatCannotBeSavedFailsThePublishAndIsUndone() {
    VolumeSettings v = volume("pv-a");
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.runtime.onSave(
        record -> {
          if (record.targets().contains(t2.toString())) {
            throw new IllegalStateException("disk full");
          }
        });

    Failure f = failureOf(node.publish(v, t2, false));

    assertThat(f.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(f.getMessage()).contains("disk full");
    assertThat(node.mounter.probe(t2)).isEqualTo(MountState.MISSING);
    assertThat(node.view(key(v)).orElseThrow().targets()).containsExactly(t1.toString());
    assertThat(node.runtime.record(key(v)).orElseThrow().targets()).containsExactly(t1.toString());
  }

  @Test
  void anUnpublishThatCannotUnmountKeepsTheReferenceAndCanBeRetried() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.mounter.failNextUnmount(new MountException("umount: target is busy", 16));

    Failure f = failureOf(node.unpublish("pv-a", t));

    assertThat(f.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(f.getMessage()).contains("busy");
    assertThat(node.mounter.isMounted(t)).isTrue();
    assertThat(node.view(key(v)).orElseThrow().targets()).containsExactly(t.toString());
    assertThat(node.runtime.isRunning(key(v))).isTrue();

    node.unpublishOk("pv-a", t);
    node.awaitGone(key(v));
    assertThat(Files.exists(t)).isFalse();
  }

  @Test
  void aTargetWhosePodDirectoryIsGoneIsRefusedBeforeAClientStarts() {
    VolumeSettings v = volume("pv-a");
    Path t = node.target("pod-1", "pv-a");
    node.deletePod("pod-1");

    Failure f = failureOf(node.publish(v, t, false));

    assertThat(f.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
    assertThat(f.getMessage()).contains("does not exist");
    assertThat(node.runtime.startCount()).isZero();
    node.awaitGone(key(v));
    assertThat(node.mounter.mountPoints()).isEmpty();
  }

  @Test
  void theGuardianLooksAtTheDiskBeforeAnyClientStarts() throws Exception {
    VolumeSettings v = volume("pv-a");
    Path link = node.target("pod-1", "pv-a");
    Files.createSymbolicLink(link, Files.createDirectories(link.resolveSibling("real")));
    Path file = node.target("pod-2", "pv-a");
    Files.writeString(file, "not a directory");
    Path outside = Files.createDirectories(node.kubeletRoot.resolveSibling("outside"));
    Path escape = node.podDir("pod-3").resolve("escape");
    Files.createDirectories(escape.getParent());
    Files.createSymbolicLink(escape, outside);

    assertThat(failureOf(node.publish(v, link, false)).getMessage()).contains("is a symbolic link");
    assertThat(failureOf(node.publish(v, file, false)).getMessage())
        .contains("exists and is not a directory");
    Failure escaped = failureOf(node.publish(v, escape.resolve("mount"), false));
    assertThat(escaped.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
    assertThat(escaped.getMessage()).contains("escapes the kubelet root");
    assertThat(failureOf(node.unpublish("pv-a", link)).code())
        .isEqualTo(Failure.Code.INVALID_ARGUMENT);
    assertThat(node.runtime.startCount()).isZero();
    assertThat(outside.resolve("mount")).doesNotExist();

    // An unpublish whose pod directory is gone has nothing to do: OK, as the spec's idempotency
    // asks.
    Path gone = node.target("pod-4", "pv-a");
    node.deletePod("pod-4");
    assertOk(node.unpublish("pv-a", gone));
  }

  private static void await(CountDownLatch latch) {
    try {
      if (!latch.await(5, TimeUnit.SECONDS)) {
        throw new IllegalStateException("the test did not release the latch");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}

package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.ANSWER_DEADLINE;
import static io.jfscsi.mount.NodeHarness.RETRY_GRACE;
import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.StartProgress;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * A publish that waits for a client that is slow to start answers before kubelet gives up (kubelet
 * cancels at 120 s), saying what the start waits on; the start is not abandoned, and kubelet's
 * retry waits for the same one instead of starting another client.
 */
class SlowStartAnswerTest extends NodeTestBase {

  static final StartProgress PULLING =
      new StartProgress(
          "Mount Pod juicefs-n-pv-a-abcdef is Pending; container jfs-mount is waiting: "
              + "ContainerCreating",
          false);
  static final StartProgress BAD_IMAGE =
      new StartProgress(
          "Mount Pod juicefs-n-pv-a-abcdef is Pending; container jfs-mount is waiting: "
              + "ImagePullBackOff: Back-off pulling image \"juicedata/mount:nope\"",
          true);

  @Test
  void aSlowStartIsAnsweredAtTheDeadlineWithWhatItWaitsOnAndTheRetryJoinsIt() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t, false);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    start.report(PULLING);
    node.awaitView(
        key,
        "says what its start waits on",
        view -> view.lastError().equals(Optional.of(PULLING.description())));

    node.advance(ANSWER_DEADLINE.minusSeconds(1));
    first.expectNoMessage(Duration.ofMillis(200));
    node.advance(Duration.ofSeconds(1));
    Failure answer = failureOf(first.receiveMessage(NodeHarness.WAIT));

    assertThat(answer.code()).isEqualTo(Failure.Code.DEADLINE_EXCEEDED);
    assertThat(answer.getMessage())
        .contains("volume pv-a is not ready after 100 s")
        .contains(PULLING.description())
        .contains("the retry waits for the same one");
    // Nothing was bound or recorded for the answered publish, and the start goes on.
    assertThat(node.mounter.isMounted(t)).isFalse();
    assertThat(node.awaitState(key, ClientState.STARTING).targets()).isEmpty();

    // Kubelet's retry (its backoff starts at 0.5 s) joins the start in progress.
    TestProbe<StatusReply<Done>> retry = node.sendPublish(v, t, false);
    retry.expectNoMessage(Duration.ofMillis(200));
    assertThat(node.runtime.startCount()).isEqualTo(1);
    assertThat(node.runtime.pendingStarts()).isZero();
    start.complete();

    assertOk(retry.receiveMessage(NodeHarness.WAIT));
    assertThat(node.mounter.isMounted(t)).isTrue();
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(t.toString());
    assertThat(node.awaitState(key, ClientState.READY).deleteAt()).isEmpty();
    assertThat(node.runtime.launchCount()).isEqualTo(1);
  }

  @Test
  void aStuckStartIsAnsweredAtOnceAndEveryRetryJoinsTheSameStartUntilItRecovers() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t, false);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    start.report(PULLING);
    first.expectNoMessage(Duration.ofMillis(200));

    start.report(BAD_IMAGE);
    Failure answer = failureOf(first.receiveMessage(NodeHarness.WAIT));
    assertThat(answer.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(answer.getMessage())
        .contains("volume pv-a cannot be served until this is fixed")
        .contains("ImagePullBackOff: Back-off pulling image \"juicedata/mount:nope\"");

    // While it stays so, a retry is answered at once (no time passes) by the same start.
    Failure again = failureOf(node.publish(v, t, false));
    assertThat(again.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(again.getMessage()).contains("ImagePullBackOff");

    // The image is pulled after all: the next retry waits, and gets the same client.
    start.report(PULLING);
    TestProbe<StatusReply<Done>> retry = node.sendPublish(v, t, false);
    retry.expectNoMessage(Duration.ofMillis(200));
    start.complete();
    assertOk(retry.receiveMessage(NodeHarness.WAIT));
    assertThat(node.runtime.startCount()).isEqualTo(1);
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    assertThat(node.view(key).orElseThrow().targets()).containsExactly(t.toString());
  }

  @Test
  void aClientReadyAfterTheAnswerWaitsForTheRetryThenExitsIfNoneComes() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t, false);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    start.report(BAD_IMAGE);
    assertThat(failureOf(first.receiveMessage(NodeHarness.WAIT)).code())
        .isEqualTo(Failure.Code.UNAVAILABLE);

    // Ready between two of kubelet's retries (up to 2m2s apart): it waits for the next one.
    start.complete();
    ClientView waiting = node.awaitState(key, ClientState.DRAINING);
    assertThat(waiting.deleteAt()).contains(node.clock.instant().plus(RETRY_GRACE));
    assertThat(node.runtime.record(key).orElseThrow().deleteAt()).isPresent();
    node.advance(RETRY_GRACE.minusSeconds(1));
    assertThat(node.runtime.isRunning(key)).isTrue();

    // The app pod went away, so no retry comes: the client goes, nothing is left.
    node.advance(Duration.ofSeconds(1));
    node.awaitGone(key);
    assertThat(node.runtime.stopCount()).isEqualTo(1);
    assertThat(node.mounter.isMounted(t)).isFalse();
  }

  @Test
  void aRetryWithinTheGraceGetsTheClientThatBecameReadyMeanwhile() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t, false);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    node.views();
    node.advance(ANSWER_DEADLINE);
    assertThat(failureOf(first.receiveMessage(NodeHarness.WAIT)).getMessage())
        .contains("its client is still starting");
    start.complete();
    node.awaitState(key, ClientState.DRAINING);
    node.advance(Duration.ofSeconds(122)); // kubelet's longest retry delay

    node.publishOk(v, t);
    ClientView served = node.awaitState(key, ClientState.READY);
    assertThat(served.deleteAt()).isEmpty();
    assertThat(node.runtime.record(key).orElseThrow().deleteAt()).isEmpty();
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    node.advance(RETRY_GRACE);
    assertThat(node.runtime.isRunning(key)).isTrue();
  }

  @Test
  void anUnpublishAfterAnEarlyAnswerDoesNotWaitForTheStart() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-a");
    node.runtime.holdStarts();
    TestProbe<StatusReply<Done>> first = node.sendPublish(v, t, false);
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();
    start.report(BAD_IMAGE);
    failureOf(first.receiveMessage(NodeHarness.WAIT));

    // Kubelet treats UNAVAILABLE as "maybe in progress" and unpublishes when the pod goes.
    assertOk(node.unpublish("pv-a", t));
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.STARTING);

    // The start fails for good later (the runtime's own timeout): nothing is left behind.
    start.fail(new Failure(Failure.Code.UNAVAILABLE, "the Mount Pod did not become ready"));
    node.awaitGone(key);
    assertThat(node.runtime.runningClients()).isEmpty();
  }

  @Test
  void aPublishKeepsItsDeadlineWhenAFailedRestartStashesItAgain() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.runtime.holdStarts();
    node.runtime.crash(key, "killed");
    node.awaitState(key, ClientState.BROKEN);
    TestProbe<StatusReply<Done>> republish = node.sendPublish(v, t1, false);
    TestProbe<StatusReply<Done>> other = node.sendPublish(v, t2, false);
    node.views();
    node.advance(NodeHarness.MIN_BACKOFF);
    node.runtime.nextPendingStart().fail(new Failure(Failure.Code.UNAVAILABLE, "still down"));
    // The new target's publish fails with the start; the held one's waits on, not afresh.
    assertThat(failureOf(other.receiveMessage(NodeHarness.WAIT)).getMessage())
        .isEqualTo("still down");
    node.awaitState(key, ClientState.BROKEN);
    node.advance(ANSWER_DEADLINE.minus(NodeHarness.MIN_BACKOFF));

    Failure answer = failureOf(republish.receiveMessage(NodeHarness.WAIT));
    assertThat(answer.code()).isEqualTo(Failure.Code.DEADLINE_EXCEEDED);
    // The reference it held stays: the answer only says that the client is not back yet.
    assertThat(node.view(key).orElseThrow().targets()).containsExactly(t1.toString());
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(t1.toString());
  }
}

package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * The guardian routes by the reports of its mount actors (target held or released, client idle);
 * those reports travel while further calls for the same target are on their way. A report that
 * crosses newer calls must neither stop a client that has, or is about to get, a reference, nor
 * make the guardian forget where a target is routed. A blocking bind hook holds the mount actor
 * mid-call so that each crossing happens on purpose.
 */
class CrossingMessagesTest extends NodeTestBase {

  final VolumeSettings v = volume("pv-a");
  final ClientKey key = key(v);

  @Test
  void aPublishThatOvertakesTheFailureOfAnEarlierOneOnTheSameTargetKeepsItsClient()
      throws Exception {
    Path t = node.target("pod-1", "pv-a");
    CountDownLatch binding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    node.mounter.onBind(
        target -> {
          if (first.getAndSet(false)) {
            binding.countDown();
            await(release);
          }
        });
    node.mounter.failNextBind();

    // kubelet's first call hangs in the bind; it times out and calls again.
    TestProbe<StatusReply<Done>> firstCall = node.sendPublish(v, t, false);
    assertThat(binding.await(3, TimeUnit.SECONDS)).isTrue();
    TestProbe<StatusReply<Done>> retry = node.sendPublish(v, t, false);
    node.guardianBarrier(); // the retry is routed to the busy actor
    release.countDown();

    assertThat(failureOf(firstCall.receiveMessage(NodeHarness.WAIT)).code())
        .isEqualTo(Failure.Code.INTERNAL);
    assertOk(retry.receiveMessage(NodeHarness.WAIT));

    // The failure's "no reference, idle" reached the guardian after the retry had been routed.
    ClientView view =
        node.awaitView(
            key,
            "holds the retried target",
            cv -> cv.state() == ClientState.READY && cv.targets().size() == 1);
    assertThat(view.targets()).containsExactly(t.toString());
    assertThat(node.runtime.isRunning(key)).isTrue();
    assertThat(node.mounter.isMounted(t)).isTrue();
    assertThat(node.runtime.record(key)).isPresent();
    assertThat(node.runtime.stopCount()).isZero();

    // And the routing table still knows the target.
    assertThat(node.stats("pv-a", t).isSuccess()).isTrue();
    node.unpublishOk("pv-a", t);
    node.awaitGone(key);
  }

  @Test
  void anUnpublishSentWhileAnEarlierUnpublishIsReportedIsNotLost() throws Exception {
    Path t = node.target("pod-1", "pv-a");
    Path other = node.target("pod-2", "pv-a");
    node.publishOk(v, t);
    CountDownLatch bindingOther = new CountDownLatch(1);
    CountDownLatch releaseOther = new CountDownLatch(1);
    CountDownLatch bindingT = new CountDownLatch(1);
    CountDownLatch releaseT = new CountDownLatch(1);
    node.mounter.onBind(
        target -> {
          if (target.equals(other)) {
            bindingOther.countDown();
            await(releaseOther);
          } else if (target.equals(t)) {
            bindingT.countDown();
            await(releaseT);
          }
        });

    // The actor is busy with another pod's publish while kubelet unpublishes t and publishes it
    // again; both calls are routed to the actor and wait in its mailbox.
    TestProbe<StatusReply<Done>> otherPublish = node.sendPublish(v, other, false);
    assertThat(bindingOther.await(3, TimeUnit.SECONDS)).isTrue();
    TestProbe<StatusReply<Done>> unpublish = kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.Unpublish("pv-a", t, unpublish.getRef()));
    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, t, false);
    node.guardianBarrier();
    releaseOther.countDown();
    assertOk(otherPublish.receiveMessage(NodeHarness.WAIT));

    // The unpublish is done ("t released" is on its way to the guardian); the new publish hangs
    // in its bind. kubelet gives up on the pod and unpublishes t once more.
    assertOk(unpublish.receiveMessage(NodeHarness.WAIT));
    assertThat(bindingT.await(3, TimeUnit.SECONDS)).isTrue();
    TestProbe<StatusReply<Done>> last = kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.Unpublish("pv-a", t, last.getRef()));
    node.guardianBarrier();
    releaseT.countDown();

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    assertOk(last.receiveMessage(NodeHarness.WAIT));
    // The last word was the unpublish: t is neither mounted nor referenced; the other pod is.
    ClientView view =
        node.awaitView(
            key, "holds only the other pod", cv -> cv.targets().equals(List.of(other.toString())));
    assertThat(view.state()).isEqualTo(ClientState.READY);
    assertThat(node.mounter.layers(t)).isZero();
    assertThat(node.mounter.isMounted(other)).isTrue();
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(other.toString());
  }

  @Test
  void anIdleReportIgnoredForARepeatedUnpublishInFlightIsRepeated() throws Exception {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    CountDownLatch saving = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    node.runtime.onSave(
        record -> {
          if (record.targets().isEmpty()) {
            saving.countDown();
            await(release);
          }
        });

    // kubelet repeats an unpublish while the first is still being recorded.
    TestProbe<StatusReply<Done>> first = kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.Unpublish("pv-a", t, first.getRef()));
    assertThat(saving.await(3, TimeUnit.SECONDS)).isTrue();
    TestProbe<StatusReply<Done>> repeated = kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.Unpublish("pv-a", t, repeated.getRef()));
    node.guardianBarrier();
    release.countDown();

    assertOk(first.receiveMessage(NodeHarness.WAIT));
    assertOk(repeated.receiveMessage(NodeHarness.WAIT));
    // The idle report that crossed the repeated call was ignored; the client still goes.
    node.awaitGone(key);
    assertThat(node.runtime.record(key)).isEmpty();
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

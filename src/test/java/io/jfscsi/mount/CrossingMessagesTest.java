package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.ClientKey;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * The guardian stops a client when its actor reports itself idle; messages that cross that
 * report must never stop a client that has, or is about to get, a reference. A blocking bind
 * hook holds the mount actor mid-publish so that the crossing happens on purpose.
 */
class IdleHandshakeTest extends NodeTestBase {

  final VolumeSettings v = volume("pv-a");
  final ClientKey key = key(v);

  @Test
  void aPublishThatOvertakesTheFailureOfAnEarlierOneOnTheSameTargetKeepsItsClient()
      throws Exception {
    Path t = node.target("pod-1", "pv-a");
    CountDownLatch binding = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    node.mounter.onBind(target -> {
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
    ClientView view = node.awaitView(key, "holds the retried target",
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

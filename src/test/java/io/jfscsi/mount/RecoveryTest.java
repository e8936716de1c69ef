package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.MIN_BACKOFF;
import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeContainerRecovery;
import io.jfscsi.testing.FakeRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/** Client crashes, restarts with backoff, and driver restarts. */
class RecoveryTest extends NodeTestBase {

  final VolumeSettings v = volume("pv-a");
  final ClientKey key = key(v);

  @Test
  void aCrashedClientIsRestartedAfterTheBackoffAndStaleTargetsAreBoundAgain() {
    Path rw = node.target("pod-1", "pv-a");
    Path ro = node.target("pod-2", "pv-a");
    node.publishOk(v, rw);
    assertOk(node.publish(v, ro, true));
    RunningClient first = node.runtime.running(key).orElseThrow();

    node.runtime.crash(key, "client process 4711 exited with signal 9");

    ClientView broken = node.awaitState(key, ClientState.BROKEN);
    assertThat(broken.lastError()).contains("client process 4711 exited with signal 9");
    assertThat(broken.restarts()).isEqualTo(1);
    assertThat(broken.targets()).containsExactly(rw.toString(), ro.toString());
    assertThat(node.mounter.probe(rw)).isEqualTo(MountState.STALE);
    assertThat(node.mounter.probe(ro)).isEqualTo(MountState.STALE);
    assertThat(node.stats("pv-a", rw).getValue().abnormal()).isTrue();

    node.advance(MIN_BACKOFF.minusMillis(1));
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.BROKEN);
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    node.advance(Duration.ofMillis(1));

    node.awaitState(key, ClientState.READY);
    RunningClient second = node.runtime.running(key).orElseThrow();
    assertThat(second.handle()).isNotEqualTo(first.handle());
    assertThat(node.mounter.probe(rw)).isEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.probe(ro)).isEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.sameFileSystem(rw, second.mountPath())).isTrue();
    assertThat(node.mounter.sameFileSystem(ro, second.mountPath())).isTrue();
    assertThat(node.mounter.readOnly(ro)).contains(true);
    assertThat(node.mounter.readOnly(rw)).contains(false);
    // Bound on top of the dead bind, so that HostToContainer copies receive it by propagation.
    assertThat(node.mounter.layers(rw)).isEqualTo(2);
    assertThat(node.stats("pv-a", rw).getValue().abnormal()).isFalse();
    assertThat(node.runtime.record(key).orElseThrow().running()).contains(second);
  }

  @Test
  void containersThatStillHoldADeadCopyAreTriedAgainWithBackoffUntilRecovered() {
    Path rw = node.target("pod-1", "pv-a");
    node.publishOk(v, rw);
    assertThat(node.containers.calls()).as("a first start has no container to recover").isEmpty();
    node.containers.answer(List.of(deadCopy(rw, false)), List.of(deadCopy(rw, false)));

    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);
    node.advance(MIN_BACKOFF);
    node.awaitState(key, ClientState.READY);
    RunningClient second = node.runtime.running(key).orElseThrow();
    assertThat(node.containers.calls())
        .containsExactly(new FakeContainerRecovery.Call("pv-a", second.mountPath(), Set.of(rw)));

    // Tried again after the restart backoff, then after twice that; the third try finds none.
    node.advance(MIN_BACKOFF.minusMillis(1));
    node.view(key);
    assertThat(node.containers.calls()).hasSize(1);
    node.advance(Duration.ofMillis(1));
    NodeHarness.eventually(
        () -> assertThat(node.containers.calls()).as("the second try").hasSize(2));
    node.advance(MIN_BACKOFF.multipliedBy(2));
    NodeHarness.eventually(
        () -> assertThat(node.containers.calls()).as("the third try").hasSize(3));
    node.advance(NodeHarness.MAX_BACKOFF.multipliedBy(4));
    node.view(key);
    assertThat(node.containers.calls()).as("nothing left to try").hasSize(3);
  }

  @Test
  void aContainerRefusedForSafetyIsNotTriedAgain() {
    Path rw = node.target("pod-1", "pv-a");
    node.publishOk(v, rw);
    node.containers.answer(List.of(deadCopy(rw, true)));

    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);
    node.advance(MIN_BACKOFF);
    node.awaitState(key, ClientState.READY);
    node.advance(NodeHarness.MAX_BACKOFF.multipliedBy(4));
    node.view(key);
    assertThat(node.containers.calls()).hasSize(1);
  }

  private static ContainerOutcome deadCopy(Path target, boolean refused) {
    return new ContainerOutcome(
        "pv-a",
        Optional.of(target),
        4711,
        4026532000L,
        target,
        target,
        Optional.empty(),
        false,
        refused,
        refused ? "refused: not ours" : "helper exit 1: busy",
        Duration.ZERO);
  }

  @Test
  void aRecoveryIsPublishedWithTheTimeFromTheDeathToEveryTargetBoundAgain() {
    TestProbe<ClientRecovered> recoveries = kit.createTestProbe();
    kit.system()
        .eventStream()
        .tell(new EventStream.Subscribe<>(ClientRecovered.class, recoveries.ref()));
    node.publishOk(v, node.target("pod-1", "pv-a"));
    node.publishOk(v, node.target("pod-2", "pv-a"));

    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);
    node.runtime.failNextStart(new Failure(Failure.Code.UNAVAILABLE, "still down"));
    node.advance(MIN_BACKOFF); // the first restart fails: the recovery goes on
    node.view(key);
    recoveries.expectNoMessage(Duration.ofMillis(50));
    node.advance(MIN_BACKOFF.multipliedBy(2));
    node.awaitState(key, ClientState.READY);

    ClientRecovered recovered = recoveries.receiveMessage();
    assertThat(recovered.key()).isEqualTo(key.name());
    assertThat(recovered.targets()).isEqualTo(2);
    assertThat(recovered.took()).isEqualTo(MIN_BACKOFF.multipliedBy(3));
    assertThat(recovered.restarts()).isEqualTo(2);
    kit.system().eventStream().tell(new EventStream.Unsubscribe<>(recoveries.ref()));
  }

  @Test
  void theBackoffDoublesOnRepeatedFailuresUpToTheMaximum() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.runtime.crash(key, "crashed");
    node.awaitView(
        key, "broken once", view -> view.state() == ClientState.BROKEN && view.restarts() == 1);

    // Restart attempts fail: 1s, 2s, 4s, 8s, 8s (max).
    long[] waits = {1, 2, 4, 8, 8};
    for (int attempt = 0; attempt < waits.length; attempt++) {
      int startsBefore = node.runtime.startCount();
      node.runtime.failNextStart(new Failure(Failure.Code.UNAVAILABLE, "still down " + attempt));
      node.advance(Duration.ofSeconds(waits[attempt]).minusMillis(1));
      node.view(key); // a barrier: a restart due by now would have been asked for
      assertThat(node.runtime.startCount())
          .as("attempt %d too early", attempt)
          .isEqualTo(startsBefore);
      node.advance(Duration.ofMillis(1));
      int restarts = attempt + 2;
      node.awaitView(
          key,
          "broken after failed restart " + attempt,
          view -> view.state() == ClientState.BROKEN && view.restarts() == restarts);
      assertThat(node.runtime.startCount()).isEqualTo(startsBefore + 1);
      assertThat(node.view(key).orElseThrow().lastError()).contains("still down " + attempt);
    }

    node.advance(NodeHarness.MAX_BACKOFF);
    node.awaitState(key, ClientState.READY);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
  }

  @Test
  void aDeathReportedBeforeTheRestartCompletesIsNotLost() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.runtime.crash(key, "first crash");
    node.awaitState(key, ClientState.BROKEN);
    node.runtime.holdStarts();
    node.advance(MIN_BACKOFF);
    FakeRuntime.PendingStart restart = node.runtime.nextPendingStart();
    node.awaitState(key, ClientState.RESTARTING);

    restart.completeAfterItsDeath("died while starting");

    ClientView view =
        node.awaitView(
            key, "broken again", cv -> cv.state() == ClientState.BROKEN && cv.restarts() == 2);
    assertThat(view.lastError()).contains("died while starting");
    node.runtime.releaseStarts();
    node.advance(MIN_BACKOFF.multipliedBy(2));
    node.awaitState(key, ClientState.READY);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
    assertThat(node.runtime.isRunning(key)).isTrue();
  }

  @Test
  void aClientThatCrashesRightAfterEachRestartBacksOffLongerUntilItRunsAWhile() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    // Crash loop: each restart succeeds, and the client dies at once again.
    long[] waits = {1, 2, 4, 8, 8};
    for (int i = 0; i < waits.length; i++) {
      node.runtime.crash(key, "crash " + i);
      int restarts = i + 1;
      node.awaitView(
          key, "broken", cv -> cv.state() == ClientState.BROKEN && cv.restarts() == restarts);
      node.advance(Duration.ofSeconds(waits[i]).minusMillis(1));
      assertThat(node.view(key).orElseThrow().state())
          .as("restart %d too early", i)
          .isEqualTo(ClientState.BROKEN);
      node.advance(Duration.ofMillis(1));
      node.awaitState(key, ClientState.READY);
    }

    // It has served longer than reset-after: the next crash is retried soon again.
    node.advance(NodeHarness.MAX_BACKOFF);
    node.runtime.crash(key, "much later");
    node.awaitView(
        key, "broken", cv -> cv.state() == ClientState.BROKEN && cv.restarts() == waits.length + 1);
    node.advance(MIN_BACKOFF);
    node.awaitState(key, ClientState.READY);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
  }

  @Test
  void aPublishThatFindsTheClientDeadBeforeItsExitIsReportedWaitsForTheRestart() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    RunningClient dead = node.runtime.dieUnnoticed(key);

    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, t2, false);

    ClientView broken = node.awaitState(key, ClientState.BROKEN);
    assertThat(broken.restarts()).isEqualTo(1);
    assertThat(broken.lastError().orElseThrow()).contains("not connected");
    // The runtime's own report arrives late: the death is known, no second restart is planned.
    node.runtime.reportExit(dead, "client process exited");
    node.advance(MIN_BACKOFF);
    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    ClientView ready = node.awaitState(key, ClientState.READY);
    assertThat(ready.restarts()).isEqualTo(1);
    assertThat(ready.targets()).containsExactly(t1.toString(), t2.toString());
    assertThat(node.mounter.isMounted(t1)).isTrue();
    assertThat(node.mounter.isMounted(t2)).isTrue();
  }

  @Test
  void anUnpublishDoesNotOvertakeAPublishOfTheSameTargetWaitingForTheRestart() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);

    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, t2, false);
    TestProbe<StatusReply<Done>> unpublish = kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.Unpublish("pv-a", t2, unpublish.getRef()));
    unpublish.expectNoMessage(Duration.ofMillis(200));
    node.advance(MIN_BACKOFF);

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    assertOk(unpublish.receiveMessage(NodeHarness.WAIT));
    ClientView view = node.awaitState(key, ClientState.READY);
    assertThat(view.targets()).containsExactly(t1.toString());
    assertThat(node.mounter.layers(t2)).isZero();
  }

  @Test
  void theLastUnpublishWhileBrokenKeepsTheRestartForAPublishThatWaits() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);

    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, t2, false);
    node.unpublishOk("pv-a", t1);
    node.advance(MIN_BACKOFF);

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    ClientView view = node.awaitState(key, ClientState.READY);
    assertThat(view.targets()).containsExactly(t2.toString());
    assertThat(node.mounter.isMounted(t2)).isTrue();
  }

  @Test
  void publishesAndUnpublishesWhileTheClientIsBroken() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    Path t3 = node.target("pod-3", "pv-a");
    node.publishOk(v, t1);
    node.publishOk(v, t2);
    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);

    // An unpublish needs no client: the stale bind is removed at once.
    node.unpublishOk("pv-a", t2);
    assertThat(node.mounter.probe(t2)).isEqualTo(MountState.MISSING);
    // A new publish waits for the restart.
    TestProbe<StatusReply<Done>> waiting = node.sendPublish(v, t3, false);
    waiting.expectNoMessage(Duration.ofMillis(200));

    node.advance(MIN_BACKOFF);

    assertOk(waiting.receiveMessage(NodeHarness.WAIT));
    ClientView view = node.awaitState(key, ClientState.READY);
    assertThat(view.targets()).containsExactly(t1.toString(), t3.toString());
    assertThat(node.mounter.isMounted(t1)).isTrue();
    assertThat(node.mounter.isMounted(t3)).isTrue();
    assertThat(node.mounter.probe(t2)).isEqualTo(MountState.MISSING);
  }

  @Test
  void theLastUnpublishWhileTheClientIsBrokenEndsItWithoutARestart() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.runtime.crash(key, "crashed");
    node.awaitState(key, ClientState.BROKEN);

    node.unpublishOk("pv-a", t);

    node.awaitGone(key);
    node.advance(MIN_BACKOFF.multipliedBy(10));
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(node.mounter.mountPoints()).as("the dead client's mount point is cleared").isEmpty();
  }

  @Test
  void aDriverRestartAdoptsTheClientAndKeepsItsReferences() {
    Path rw = node.target("pod-1", "pv-a");
    Path ro = node.target("pod-2", "pv-a");
    node.publishOk(v, rw);
    assertOk(node.publish(v, ro, true));
    RunningClient client = node.runtime.running(key).orElseThrow();

    node.restartDriver();

    ClientView adopted = node.awaitState(key, ClientState.READY);
    assertThat(adopted.handle()).contains(client.handle());
    assertThat(adopted.targets()).containsExactlyInAnyOrder(rw.toString(), ro.toString());
    assertThat(node.runtime.adoptionCount()).isEqualTo(1);
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    assertThat(node.mounter.bindCount()).isEqualTo(2);

    // kubelet repeats its calls after a driver restart: same answers as before.
    assertOk(node.publish(v, ro, true));
    assertThat(failureOf(node.publish(v, ro, false)).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
    assertThat(node.mounter.layers(ro)).isEqualTo(1);

    node.unpublishOk("pv-a", rw);
    assertThat(node.runtime.isRunning(key)).isTrue();
    node.unpublishOk("pv-a", ro);
    node.awaitGone(key);
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(node.runtime.stopCount()).isEqualTo(1);
  }

  @Test
  void aClientCrashAfterADriverRestartReachesTheNewActor() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.restartDriver();
    node.awaitState(key, ClientState.READY);

    node.runtime.crash(key, "crashed after adoption");

    node.awaitState(key, ClientState.BROKEN);
    node.advance(MIN_BACKOFF);
    node.awaitState(key, ClientState.READY);
    assertThat(node.mounter.isMounted(t)).isTrue();
    assertThat(node.runtime.launchCount()).isEqualTo(2);
  }

  @Test
  void aDriverRestartDropsTargetsWhosePodIsGone() {
    Path kept = node.target("pod-1", "pv-a");
    Path gone = node.target("pod-2", "pv-a");
    node.publishOk(v, kept);
    node.publishOk(v, gone);

    node.stopDriver();
    node.mounter.forget(gone);
    node.deletePod("pod-2");
    node.startDriver();

    ClientView view =
        node.awaitView(
            key,
            "has dropped the gone target",
            cv -> cv.state() == ClientState.READY && cv.targets().size() == 1);
    assertThat(view.targets()).containsExactly(kept.toString());
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(kept.toString());

    // The remaining reference still works as before.
    node.unpublishOk("pv-a", kept);
    node.awaitGone(key);
  }

  @Test
  void aClientThatDiedWhileTheDriverWasDownIsStartedAgainAndItsTargetsBound() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);

    node.stopDriver();
    node.runtime.dieSilently(key);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.STALE);
    node.startDriver();

    node.awaitState(key, ClientState.READY);
    RunningClient fresh = node.runtime.running(key).orElseThrow();
    assertThat(node.runtime.launchCount()).isEqualTo(2);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
    assertThat(node.mounter.sameFileSystem(t, fresh.mountPath())).isTrue();
  }

  @Test
  void theReferenceCheckDropsTargetsWhosePodDirectoryDisappeared() {
    Path kept = node.target("pod-1", "pv-a");
    Path gone = node.target("pod-2", "pv-a");
    node.publishOk(v, kept);
    node.publishOk(v, gone);

    node.mounter.forget(gone);
    node.deletePod("pod-2");
    node.advance(NodeHarness.REFERENCE_CHECK);

    node.awaitView(key, "has one target", cv -> cv.targets().size() == 1);
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(kept.toString());
    assertThat(node.mounter.isMounted(kept)).isTrue();
    assertThat(failureOf(node.stats("pv-a", gone)).code()).isEqualTo(Failure.Code.NOT_FOUND);

    // When the last one goes the same way the client ends.
    node.mounter.forget(kept);
    node.deletePod("pod-1");
    node.advance(NodeHarness.REFERENCE_CHECK);
    node.awaitGone(key);
  }

  @Test
  void theReferenceCheckDropsTargetsWhosePodTheRuntimeKnowsIsGone() {
    Path kept = node.target("pod-1", "pv-a");
    Path gone = node.target("pod-2", "pv-a");
    node.publishOk(v, kept);
    node.publishOk(v, gone);

    // The directory and the bind are still there; only the cluster knows the pod is gone.
    node.runtime.markPodGone(gone);
    node.advance(NodeHarness.REFERENCE_CHECK);

    node.awaitView(key, "has one target", cv -> cv.targets().size() == 1);
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(kept.toString());
    assertThat(node.mounter.isMounted(kept)).isTrue();
    assertThat(node.mounter.isMounted(gone)).isFalse();
  }

  @Test
  void theReferenceCheckDropsATargetUnmountedBehindTheDriversBack() {
    Path kept = node.target("pod-1", "pv-a");
    Path lost = node.target("pod-2", "pv-a");
    node.publishOk(v, kept);
    node.publishOk(v, lost);

    node.mounter.forget(lost); // the pod directory stays: only the mount went away
    node.advance(NodeHarness.REFERENCE_CHECK);

    node.awaitView(key, "has one target", cv -> cv.targets().size() == 1);
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(kept.toString());
    assertThat(node.mounter.isMounted(kept)).isTrue();
  }

  @Test
  void aClientThatDiesUnnoticedIsFoundByTheCheckAndRestartedWithItsTargets() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    RunningClient first = node.runtime.running(key).orElseThrow();
    node.runtime.dieUnnoticed(key);
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.STALE);

    node.advance(NodeHarness.REFERENCE_CHECK);
    node.advance(MountActor.HUNG_CONFIRMATION); // a second look before it is called hung
    ClientView broken = node.awaitState(key, ClientState.BROKEN);
    assertThat(broken.lastError())
        .hasValueSatisfying(e -> assertThat(e).contains("does not answer"));
    node.advance(MIN_BACKOFF);

    node.awaitState(key, ClientState.READY);
    assertThat(node.runtime.running(key).orElseThrow().handle()).isNotEqualTo(first.handle());
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
  }

  /**
   * A check that runs between a crash and its exit report finds the mount point dead: it does not
   * stop the client itself (on a node that waits for the pod to go) but looks again, and the exit
   * report, arriving meanwhile, restarts it as any crash.
   */
  @Test
  void aCrashTheCheckSeesBeforeItsExitReportIsLeftToTheReport() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    RunningClient first = node.runtime.dieUnnoticed(key);

    node.advance(NodeHarness.REFERENCE_CHECK);
    node.awaitView(key, "checked", cv -> cv.state() == ClientState.READY);
    node.runtime.reportExit(first, "the container of Mount Pod P exited with code 137");
    ClientView broken = node.awaitState(key, ClientState.BROKEN);
    node.advance(MountActor.HUNG_CONFIRMATION);
    node.advance(MIN_BACKOFF);

    node.awaitState(key, ClientState.READY);
    assertThat(broken.lastError()).hasValue("the container of Mount Pod P exited with code 137");
    assertThat(node.runtime.stopCount()).as("stops by the check").isZero();
    assertThat(node.runtime.running(key).orElseThrow().handle()).isNotEqualTo(first.handle());
    assertThat(node.mounter.probe(t)).isEqualTo(MountState.MOUNTED);
  }
}

package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static io.jfscsi.mount.NodeHarness.withDeleteDelay;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeRuntime;
import java.nio.file.Path;
import java.time.Duration;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * One {@link MountActor} alone, with a probe as its parent: what it reports, and when it agrees to
 * stop. (The node harness's guardian is idle in these tests.)
 */
class MountActorTest extends NodeTestBase {

  final VolumeSettings v = volume("pv-a");
  final ClientKey key = key(v);
  TestProbe<MountActor.Report> parent;
  ActorRef<MountActor.Command> actor;

  ActorRef<MountActor.Command> spawn(VolumeSettings volume) {
    // The harness's guardian shares the runtime and mounter: let it finish starting first, or a
    // late start-up reads this actor's client back and clears its binds as a crashed driver's.
    node.guardianBarrier();
    parent = kit.createTestProbe();
    actor =
        kit.spawn(
            MountActor.create(
                key(volume),
                volume,
                node.runtime,
                node.mounter,
                node.containers,
                node.settings,
                node.clock,
                parent.getRef()));
    return actor;
  }

  /**
   * Spawns the actor as the guardian does, for a first publish (whose AddTarget is queued before
   * the client is up: a client that comes up with nothing to do reports itself idle).
   */
  void spawnForFirstPublish(VolumeSettings volume, Path target) {
    node.runtime.holdStarts();
    spawn(volume);
    TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
    actor.tell(new MountActor.AddTarget(target, false, reply.getRef()));
    node.runtime.nextPendingStart().complete();
    node.runtime.releaseStarts();
    assertOk(reply.receiveMessage(NodeHarness.WAIT));
  }

  @AfterEach
  void stopActor() {
    if (actor != null) {
      kit.stop(actor, NodeHarness.WAIT);
    }
  }

  StatusReply<Done> add(Path target, boolean readOnly) {
    TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
    actor.tell(new MountActor.AddTarget(target, readOnly, reply.getRef()));
    return reply.receiveMessage(NodeHarness.WAIT);
  }

  StatusReply<Done> remove(Path target) {
    TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
    actor.tell(new MountActor.RemoveTarget(target, reply.getRef()));
    return reply.receiveMessage(NodeHarness.WAIT);
  }

  ClientView describe() {
    TestProbe<ClientView> reply = kit.createTestProbe();
    actor.tell(new MountActor.Describe(reply.getRef()));
    return reply.receiveMessage(NodeHarness.WAIT);
  }

  @Test
  void reportsEachReferenceAndIdlenessToItsParent() {
    Path t = node.target("pod-1", "pv-a");

    spawnForFirstPublish(v, t);
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.TargetHeld(key, t, true, true));

    assertOk(remove(t));
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.TargetHeld(key, t, false, true));
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.Idle(key));
    // Idle is a report, not an exit: the client runs until the parent says Stop.
    assertThat(node.runtime.isRunning(key)).isTrue();

    actor.tell(new MountActor.Stop());
    parent.expectTerminated(actor, NodeHarness.WAIT);
    assertThat(node.runtime.isRunning(key)).isFalse();
    assertThat(node.runtime.record(key)).isEmpty();
    actor = null;
  }

  @Test
  void aStopThatArrivesAfterANewReferenceIsRefused() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    spawnForFirstPublish(v, t1);
    assertOk(remove(t1));
    parent.receiveSeveralMessages(3); // held, released, idle
    assertOk(add(t2, false));
    parent.receiveMessage();

    actor.tell(new MountActor.Stop());

    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.InUse(key));
    assertThat(describe().targets()).containsExactly(t2.toString());
    assertThat(node.runtime.isRunning(key)).isTrue();
    assertThat(node.mounter.isMounted(t2)).isTrue();
  }

  @Test
  void aStopWhileTheClientIsStillStartingIsRefused() {
    node.runtime.holdStarts();
    spawn(v);
    Path t = node.target("pod-1", "pv-a");
    TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
    actor.tell(new MountActor.AddTarget(t, false, reply.getRef()));
    FakeRuntime.PendingStart start = node.runtime.nextPendingStart();

    actor.tell(new MountActor.Stop());
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.InUse(key));

    // Had it stopped, this client would have come up with no actor to ever stop it.
    start.complete();
    assertOk(reply.receiveMessage(NodeHarness.WAIT));
    assertThat(describe().state()).isEqualTo(ClientState.READY);
  }

  @Test
  void aStopDuringADelayedExitIsRefusedUntilTheExitIsDue() {
    VolumeSettings delayed = withDeleteDelay(v, Duration.ofSeconds(30));
    Path t = node.target("pod-1", "pv-a");
    spawnForFirstPublish(delayed, t);
    assertOk(remove(t));
    parent.receiveSeveralMessages(2); // held, released

    actor.tell(new MountActor.Stop());
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.InUse(key));

    node.advance(Duration.ofSeconds(30));
    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.Idle(key));
    actor.tell(new MountActor.Stop());
    parent.expectTerminated(actor, NodeHarness.WAIT);
    assertThat(node.runtime.isRunning(key)).isFalse();
    actor = null;
  }

  @Test
  void aClientThatDiesWithoutReferencesIsReportedIdleAtOnce() {
    VolumeSettings delayed = withDeleteDelay(v, Duration.ofSeconds(30));
    Path t = node.target("pod-1", "pv-a");
    spawnForFirstPublish(delayed, t);
    assertOk(remove(t));
    parent.receiveSeveralMessages(2);

    node.runtime.crash(key, "killed");

    assertThat(parent.receiveMessage()).isEqualTo(new MountActor.Idle(key));
    actor.tell(new MountActor.Stop());
    parent.expectTerminated(actor, NodeHarness.WAIT);
    actor = null;
  }
}

package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * Stopping a client can take long (a Mount Pod is awaited for its grace period and 20 s more), and
 * during a node drain many stop at once. Those stops must not hold up the calls for other volumes:
 * a CSI call is answered in time while every client of 32 is still stopping, and the guardian
 * routes while every thread of the mount actors' dispatcher is blocked.
 */
class SlowStopsTest extends NodeTestBase {

  static final int CLIENTS = 32;

  /** Longer than any bound below, so that every stop is still underway when it is checked. */
  static final Duration STOP_TIME = Duration.ofSeconds(8);

  /** What "in time" means for a call that needs no stop (kubelet's own timeout is 2 minutes). */
  static final Duration IN_TIME = Duration.ofSeconds(2);

  @Test
  void publishesOfOtherVolumesAreAnsweredInTimeWhileEveryClientOf32StopsSlowly() {
    List<VolumeSettings> draining =
        IntStream.range(0, CLIENTS).mapToObj(i -> volume("pv-drain-" + i)).toList();
    List<Path> targets = new ArrayList<>();
    for (VolumeSettings v : draining) {
      Path t = node.target("pod-" + v.volumeId(), v.volumeId());
      node.publishOk(v, t);
      targets.add(t);
    }
    node.runtime.stopsTake(STOP_TIME);

    // The node drains: every pod goes, every client loses its last reference and is stopped.
    long drainStarted = System.nanoTime();
    for (int i = 0; i < CLIENTS; i++) {
      node.unpublishOk(draining.get(i).volumeId(), targets.get(i));
    }
    NodeHarness.eventually(
        () -> {
          assertThat(node.views()).as("clients the guardian still routes to").isEmpty();
          return null;
        });

    // Pods of other volumes arrive meanwhile (a new node's pods, or the drain's replacements).
    List<Duration> took = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      VolumeSettings other = volume("pv-other-" + i);
      Path t = node.target("pod-other-" + i, other.volumeId());
      long sent = System.nanoTime();
      TestProbe<StatusReply<Done>> reply = node.sendPublish(other, t, false);
      assertOk(reply.receiveMessage(IN_TIME.plus(STOP_TIME)));
      took.add(Duration.ofNanos(System.nanoTime() - sent));
      assertThat(node.mounter.isMounted(t)).isTrue();
    }
    System.out.printf(
        "publishes while %d clients stopped: %s ms%n",
        CLIENTS, took.stream().map(Duration::toMillis).toList());
    assertThat(took)
        .as("time to answer each publish while %d clients stop", CLIENTS)
        .allSatisfy(d -> assertThat(d).isLessThan(IN_TIME));
    assertThat(Duration.ofNanos(System.nanoTime() - drainStarted))
        .as("every stop was still underway")
        .isLessThan(STOP_TIME);
    assertThat(node.runtime.stopsUnderway()).isEqualTo(CLIENTS);

    // And every stop ends with the client gone and its record removed.
    NodeHarness.eventually(
        Duration.ofSeconds(30),
        () -> {
          assertThat(node.runtime.stopsUnderway()).isZero();
          return null;
        });
    for (VolumeSettings v : draining) {
      node.awaitGone(key(v));
      assertThat(node.mounter.isMounted(targets.get(draining.indexOf(v)))).isFalse();
    }
    assertThat(node.runtime.mostStopsUnderway()).isEqualTo(CLIENTS);
    assertThat(node.runtime.runningClients()).hasSize(4);
  }

  @Test
  void aPublishOfAVolumeWhoseClientStopsSlowlyWaitsForTheStopAndGetsANewClient() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path first = node.target("pod-1", "pv-a");
    Path second = node.target("pod-2", "pv-a");
    node.publishOk(v, first);
    RunningClient old = node.runtime.running(key).orElseThrow();
    node.runtime.stopsTake(Duration.ofSeconds(1));

    node.unpublishOk("pv-a", first);
    NodeHarness.eventually(
        () -> {
          assertThat(node.runtime.stopsUnderway()).isEqualTo(1);
          return null;
        });
    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, second, false);
    publish.expectNoMessage(Duration.ofMillis(300)); // it waits in the guardian, not in a mailbox

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    RunningClient fresh = node.runtime.running(key).orElseThrow();
    assertThat(fresh.handle()).isNotEqualTo(old.handle());
    List<String> events = node.runtime.events();
    int stopped = events.indexOf("stop " + key.name());
    int removed = events.lastIndexOf("remove " + key.name());
    assertThat(stopped)
        .as("%s", events)
        .isNotNegative()
        .isLessThan(removed)
        .isLessThan(events.indexOf("launch " + key.name() + " " + fresh.handle()));
    // The old client's record went before the new one was written, not after.
    assertThat(removed).isLessThan(events.lastIndexOf("save " + key.name() + " [" + second + "]"));
    ClientView view = node.awaitState(key, ClientState.READY);
    assertThat(view.targets()).containsExactly(second.toString());
    assertThat(node.runtime.record(key).orElseThrow().targets()).containsExactly(second.toString());
    assertThat(node.mounter.isMounted(second)).isTrue();
    assertThat(node.mounter.isMounted(first)).isFalse();
    assertThat(node.runtime.runningClients()).containsExactly(fresh);
  }

  @Test
  void aHungClientIsRestartedOnlyOnceItsSlowStopIsOverAndItsActorAnswersMeanwhile() {
    VolumeSettings v = volume("pv-a");
    ClientKey key = key(v);
    Path first = node.target("pod-1", "pv-a");
    Path second = node.target("pod-2", "pv-a");
    node.publishOk(v, first);
    RunningClient hung = node.runtime.dieUnnoticed(key);
    node.runtime.stopsTake(Duration.ofSeconds(2));

    node.advance(NodeHarness.REFERENCE_CHECK);
    node.advance(MountActor.HUNG_CONFIRMATION); // a second look before it is called hung
    node.awaitState(key, ClientState.BROKEN);
    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, second, false);
    node.advance(NodeHarness.MIN_BACKOFF);
    // The restart is due but waits for the stop; the actor describes itself meanwhile.
    node.awaitState(key, ClientState.RESTARTING);
    assertThat(node.runtime.stopsUnderway()).isEqualTo(1);
    assertThat(node.runtime.launchCount()).isEqualTo(1);

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    ClientView ready = node.awaitState(key, ClientState.READY);
    assertThat(ready.targets()).containsExactly(first.toString(), second.toString());
    RunningClient fresh = node.runtime.running(key).orElseThrow();
    assertThat(fresh.handle()).isNotEqualTo(hung.handle());
    List<String> events = node.runtime.events();
    assertThat(events.indexOf("stop " + key.name()))
        .as("%s", events)
        .isNotNegative()
        .isLessThan(events.indexOf("launch " + key.name() + " " + fresh.handle()));
    assertThat(node.mounter.isMounted(first)).isTrue();
    assertThat(node.mounter.isMounted(second)).isTrue();
    assertThat(node.mounter.sameFileSystem(first, fresh.mountPath())).isTrue();
  }

  @Test
  void theGuardianRoutesWhileEveryThreadOfTheMountActorsIsBlocked() throws Exception {
    // More clients than the dispatcher has threads, each blocked in saving its record.
    int threads =
        kit.system()
            .settings()
            .config()
            .getInt(NodeGuardian.DISPATCHER + ".thread-pool-executor.fixed-pool-size");
    int blocked = threads + 4;
    CountDownLatch release = new CountDownLatch(1);
    AtomicInteger saving = new AtomicInteger();
    node.runtime.onSave(
        record -> {
          if (record.key().volumeId().startsWith("pv-stuck-")) {
            saving.incrementAndGet();
            try {
              release.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
          }
        });
    List<TestProbe<StatusReply<Done>>> stuck = new ArrayList<>();
    for (int i = 0; i < blocked; i++) {
      VolumeSettings v = volume("pv-stuck-" + i);
      stuck.add(node.sendPublish(v, node.target("pod-stuck-" + i, v.volumeId()), false));
    }
    try {
      NodeHarness.eventually(
          () -> {
            assertThat(saving.get()).as("mount actors blocked in a save").isEqualTo(threads);
            return null;
          });
      // A call that only the guardian handles: an unpublish of a target nobody published.
      Path unknown = node.target("pod-unknown", "pv-unknown");
      long sent = System.nanoTime();
      TestProbe<StatusReply<Done>> reply = kit.createTestProbe();
      node.guardian().tell(new NodeGuardian.Unpublish("pv-unknown", unknown, reply.getRef()));
      assertOk(reply.receiveMessage(IN_TIME));
      System.out.printf(
          "unpublish answered by the guardian in %d ms with all %d threads of "
              + "the mount actors blocked%n",
          Duration.ofNanos(System.nanoTime() - sent).toMillis(), threads);
    } finally {
      release.countDown();
    }
    for (TestProbe<StatusReply<Done>> p : stuck) {
      assertOk(p.receiveMessage(Duration.ofSeconds(10)));
    }
    ClientKey any = key(volume("pv-stuck-0"));
    assertThat(node.runtime.isRunning(any)).isTrue();
  }
}

package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static io.jfscsi.mount.NodeHarness.withDeleteDelay;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ExitOverride;
import io.jfscsi.client.RunningClient;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeRuntime;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/** {@code juicefs/mount-delete-delay}: the client outlives its last reference for a while. */
class DelayedExitTest extends NodeTestBase {

  static final Duration DELAY = Duration.ofSeconds(30);

  /**
   * The delay is set on the settings directly: the skeleton parser ignores the context key, so a
   * recovered actor (which parses the recorded source again) sees no delay until the real parser
   * lands. Tests below hold either way.
   */
  final VolumeSettings v =
      withDeleteDelay(volume("pv-a", Map.of("juicefs/mount-delete-delay", "30s")), DELAY);

  final ClientKey key = key(v);

  @Test
  void afterTheLastUnpublishTheClientRunsUntilTheDelayHasPassed() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    Instant unpublishedAt = node.clock.instant();

    node.unpublishOk("pv-a", t);

    ClientView draining = node.awaitState(key, ClientState.DRAINING);
    assertThat(draining.deleteAt()).contains(unpublishedAt.plus(DELAY));
    assertThat(draining.targets()).isEmpty();
    assertThat(node.runtime.record(key).orElseThrow().deleteAt())
        .contains(unpublishedAt.plus(DELAY));

    node.advance(DELAY.minusSeconds(1));
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.DRAINING);
    assertThat(node.runtime.isRunning(key)).isTrue();

    node.advance(Duration.ofSeconds(1));
    node.awaitGone(key);
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(node.runtime.stopCount()).isEqualTo(1);
  }

  @Test
  void aDelayAndCacheCleanTheRuntimeReportsActAsTheVolumesOwnWould() {
    // A Mount Pod's juicefs-delete-delay and juicefs-clean-cache from the global ConfigMap.
    VolumeSettings plain = volume("pv-b", Map.of());
    ClientKey plainKey = key(plain);
    node.runtime.exitOverride(new ExitOverride(Optional.of(DELAY), Optional.of(true)));
    Path t = node.target("pod-1", "pv-b");
    node.publishOk(plain, t);
    Instant unpublishedAt = node.clock.instant();

    node.unpublishOk("pv-b", t);

    assertThat(node.awaitState(plainKey, ClientState.DRAINING).deleteAt())
        .contains(unpublishedAt.plus(DELAY));
    node.advance(DELAY.minusSeconds(1));
    assertThat(node.runtime.isRunning(plainKey)).isTrue();
    node.advance(Duration.ofSeconds(1));
    node.awaitGone(plainKey);
    assertThat(node.runtime.cacheCleanCount()).isEqualTo(1);
  }

  @Test
  void aPublishDuringTheDelayCancelsTheExit() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    RunningClient client = node.runtime.running(key).orElseThrow();
    node.unpublishOk("pv-a", t1);
    node.awaitState(key, ClientState.DRAINING);
    node.advance(Duration.ofSeconds(10));

    node.publishOk(v, t2);

    ClientView ready = node.view(key).orElseThrow();
    assertThat(ready.state()).isEqualTo(ClientState.READY);
    assertThat(ready.deleteAt()).isEmpty();
    assertThat(ready.handle()).contains(client.handle());
    assertThat(node.runtime.record(key).orElseThrow().deleteAt()).isEmpty();
    assertThat(node.runtime.launchCount()).isEqualTo(1);

    // The old exit time passes without effect.
    node.advance(DELAY.multipliedBy(2));
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.READY);
    assertThat(node.runtime.isRunning(key)).isTrue();
    assertThat(node.mounter.isMounted(t2)).isTrue();

    // The next last unpublish starts a full delay again.
    Instant second = node.clock.instant();
    node.unpublishOk("pv-a", t2);
    assertThat(node.awaitState(key, ClientState.DRAINING).deleteAt()).contains(second.plus(DELAY));
    node.advance(DELAY);
    node.awaitGone(key);
  }

  @Test
  void aClientThatDiesDuringTheDelayIsNotRestarted() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.unpublishOk("pv-a", t);
    node.awaitState(key, ClientState.DRAINING);

    node.runtime.crash(key, "killed");

    node.awaitGone(key);
    node.advance(DELAY);
    assertThat(node.runtime.launchCount()).isEqualTo(1);
    assertThat(node.runtime.record(key)).isEmpty();
    assertThat(node.mounter.mountPoints()).as("the dead client's mount point is cleared").isEmpty();
  }

  @Test
  void aDriverRestartDuringTheDelayKeepsTheRecordedExitTime() {
    Path t = node.target("pod-1", "pv-a");
    node.publishOk(v, t);
    node.unpublishOk("pv-a", t);
    Instant exitAt = node.awaitState(key, ClientState.DRAINING).deleteAt().orElseThrow();
    node.advance(Duration.ofSeconds(10));

    node.restartDriver();

    ClientView adopted = node.awaitState(key, ClientState.DRAINING);
    assertThat(adopted.deleteAt()).contains(exitAt);
    assertThat(node.runtime.adoptionCount()).isEqualTo(1);
    assertThat(node.runtime.launchCount()).isEqualTo(1);

    node.advance(Duration.ofSeconds(19));
    assertThat(node.runtime.isRunning(key)).isTrue();
    node.advance(Duration.ofSeconds(1));
    node.awaitGone(key);
  }

  @Test
  void aPublishWhileADriverRestartIsAdoptingTheClientClearsTheRecordedExitTime() {
    Path t1 = node.target("pod-1", "pv-a");
    Path t2 = node.target("pod-2", "pv-a");
    node.publishOk(v, t1);
    node.unpublishOk("pv-a", t1);
    Instant oldExit = node.awaitState(key, ClientState.DRAINING).deleteAt().orElseThrow();
    node.advance(Duration.ofSeconds(10));
    node.runtime.holdStarts();
    node.restartDriver();
    FakeRuntime.PendingStart adoption = node.runtime.nextPendingStart();
    assertThat(adoption.adopts()).isTrue();

    TestProbe<StatusReply<Done>> publish = node.sendPublish(v, t2, false);
    node.awaitState(key, ClientState.STARTING);
    adoption.complete();

    assertOk(publish.receiveMessage(NodeHarness.WAIT));
    ClientView ready = node.awaitState(key, ClientState.READY);
    assertThat(ready.deleteAt()).isEmpty();
    assertThat(node.runtime.record(key).orElseThrow().deleteAt()).isEmpty();

    // The old exit time passes without effect.
    node.advance(Duration.between(node.clock.instant(), oldExit).plusSeconds(5));
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.READY);
    assertThat(node.runtime.isRunning(key)).isTrue();

    // The next last unpublish never reuses the old time (the recovered settings decide the
    // delay: none with the skeleton parser, 30s with the real one).
    node.unpublishOk("pv-a", t2);
    node.view(key)
        .ifPresent(view -> assertThat(view.deleteAt().orElse(Instant.MAX)).isAfter(oldExit));
    node.advance(DELAY);
    node.awaitGone(key);
  }

  @Test
  void withoutADelayTheClientStopsRightAfterTheLastUnpublish() {
    VolumeSettings now = volume("pv-b");
    Path t = node.target("pod-1", "pv-b");
    node.publishOk(now, t);

    node.unpublishOk("pv-b", t);

    node.awaitGone(key(now));
    assertThat(node.runtime.savedRecords()).allSatisfy(r -> assertThat(r.deleteAt()).isEmpty());
  }
}

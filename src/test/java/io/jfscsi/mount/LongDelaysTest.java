package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static io.jfscsi.mount.NodeHarness.withDeleteDelay;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Timers and records at their limits, on Pekko's real scheduler (ManualTime's has no limit, so it
 * cannot show what a delay beyond the real one's reach does): a long delayed exit is waited for, a
 * recorded exit time no delay can give is brought back within bounds, and a client whose actor
 * keeps failing is quarantined instead of being rebuilt in a loop.
 */
class LongDelaysTest {

  static ActorTestKit kit;

  @TempDir Path tempDir;

  NodeHarness node;

  @BeforeAll
  static void startActorSystem() {
    kit = ActorTestKit.create();
  }

  @AfterAll
  static void stopActorSystem() {
    kit.shutdownTestKit();
  }

  @BeforeEach
  void startNode() {
    node = new NodeHarness(kit, tempDir);
  }

  @AfterEach
  void stopNode() {
    node.close();
  }

  @Test
  void aDelayBeyondTheSchedulersReachIsWaitedForNotRetriedInALoop() throws Exception {
    VolumeSettings v = withDeleteDelay(volume("pv-long"), Duration.ofDays(300));
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-long");
    node.publishOk(v, t);
    Instant unpublishedAt = node.clock.instant();

    node.unpublishOk("pv-long", t);

    assertThat(node.awaitState(key, ClientState.DRAINING).deleteAt())
        .contains(unpublishedAt.plus(Duration.ofDays(300)));
    Thread.sleep(1_500);
    assertThat(node.view(key).orElseThrow().state()).isEqualTo(ClientState.DRAINING);
    assertThat(node.runtime.startCount())
        .as("client starts (a loop adopts it again and again)")
        .isEqualTo(1);
    assertThat(node.runtime.isRunning(key)).isTrue();
  }

  @Test
  void aRecordedExitTimeNoDelayCanGiveIsBroughtWithinTheLongestDelay() {
    VolumeSettings v = withDeleteDelay(volume("pv-far"), Duration.ofSeconds(30));
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-far");
    node.publishOk(v, t);
    node.unpublishOk("pv-far", t);
    node.awaitState(key, ClientState.DRAINING);
    node.stopDriver();
    ClientRecord r = node.runtime.record(key).orElseThrow();
    Instant farAway = node.clock.instant().plus(1000 * 365L, ChronoUnit.DAYS);
    node.runtime.save(
        new ClientRecord(
            r.key(),
            r.source(),
            r.targets(),
            r.readOnlyTargets(),
            Optional.of(farAway),
            r.running()));

    node.startDriver();

    assertThat(node.awaitState(key, ClientState.DRAINING).deleteAt())
        .contains(node.clock.instant().plus(VolumeSettings.MAX_DELETE_DELAY));
    assertThat(node.runtime.record(key).orElseThrow().deleteAt())
        .contains(node.clock.instant().plus(VolumeSettings.MAX_DELETE_DELAY));
  }

  @Test
  void anActorThatFailsAgainAfterItsRebuildIsQuarantinedAndTheNodeServesOn() throws Exception {
    VolumeSettings v = volume("pv-bad");
    ClientKey key = key(v);
    Path t = node.target("pod-1", "pv-bad");
    node.publishOk(v, t);
    // Every save of this client now fails: its actor fails, and so does its rebuild.
    node.runtime.onSave(
        record -> {
          if (record.key().equals(key)) {
            throw new IllegalStateException("disk full (test)");
          }
        });
    node.guardian()
        .tell(
            new NodeGuardian.Unpublish(
                "pv-bad", t, kit.<StatusReply<Done>>createTestProbe().getRef()));
    Thread.sleep(1_500);
    int starts = node.runtime.startCount();
    Thread.sleep(1_000);
    assertThat(node.runtime.startCount())
        .as("starts after the quarantine")
        .isEqualTo(starts)
        .isLessThanOrEqualTo(3);

    Failure refused = failureOf(node.publish(v, node.target("pod-2", "pv-bad"), false));
    assertThat(refused.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(refused.getMessage()).contains("quarantined");

    VolumeSettings other = volume("pv-good");
    Path o = node.target("pod-3", "pv-good");
    node.publishOk(other, o);
    node.unpublishOk("pv-good", o);
    node.runtime.onSave(null);
  }
}

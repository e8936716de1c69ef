package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.management.ClientUpgrades;
import io.jfscsi.management.ClientViews;
import io.jfscsi.management.NodeUpgrades;
import io.jfscsi.management.NodeUpgrades.Line;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code upgrade BATCH} through {@link NodeUpgrades} against the fake runtime: every client is
 * upgraded through its mount actor, never more than the workers at once; a client its actor refuses
 * is skipped; a failure starts no more unless ignoreError; a second batch follows the first, and a
 * single upgrade is refused while a batch runs.
 */
class BatchUpgradeTest extends NodeTestBase {
  final VolumeSettings a = volume("pv-a");
  final VolumeSettings b = volume("pv-b");
  final VolumeSettings c = volume("pv-c");
  ActorRef<NodeUpgrades.Command> upgrades;

  @BeforeEach
  void threeServingClients() {
    for (VolumeSettings v : List.of(a, b, c)) {
      node.publishOk(v, node.target("pod-" + v.volumeId(), v.volumeId()));
    }
    // Right after the publishes the guardian may, for a moment, not list one of the clients (seen
    // about once in forty runs, cause not found; GET /clients would miss it the same way).
    NodeHarness.eventually(() -> assertThat(node.views()).hasSize(3));
    node.runtime.passesFuseFds(true);
    upgrades = kit.spawn(NodeUpgrades.create(node.guardian(), "node-1"));
  }

  @AfterEach
  void stopUpgrades() {
    kit.stop(upgrades, NodeHarness.WAIT);
  }

  @Test
  void everyClientIsUpgradedAndNeverMoreThanTheWorkersAtOnce() {
    String podC = pod(c);
    node.runtime.holdUpgrades(true);
    TestProbe<Line> lines = batch(2, false);

    assertThat(until(lines, "Start to upgrade pod " + pod(b))).contains("3 clients on node node-1");
    NodeHarness.eventually(() -> assertThat(node.runtime.heldUpgrades()).isEqualTo(2));
    lines.expectNoMessage(Duration.ofMillis(200));
    assertThat(node.runtime.heldUpgrades()).as("the third waits for a worker").isEqualTo(2);

    node.runtime.releaseUpgrade();
    assertThat(until(lines, "Start to upgrade pod " + podC))
        .as("the third starts when one of the first two has ended")
        .anyMatch(l -> l.startsWith("POD-SUCCESS ["));
    NodeHarness.eventually(() -> assertThat(node.runtime.heldUpgrades()).isEqualTo(2));
    node.runtime.releaseUpgrade();
    node.runtime.releaseUpgrade();

    List<String> rest = toEnd(lines);
    assertThat(rest.stream().filter(l -> l.startsWith("POD-SUCCESS"))).hasSize(2);
    assertThat(rest)
        .contains("3 upgraded, 0 skipped (cannot be upgraded), 0 failed, 0 not started")
        .last()
        .isEqualTo("BATCH-SUCCESS all pods upgrade success in node node-1");
    assertThat(node.runtime.upgrades()).isEqualTo(3);
    for (VolumeSettings v : List.of(a, b, c)) {
      assertThat(node.runtime.running(key(v)).orElseThrow().handle()).endsWith("-upgraded");
    }
  }

  @Test
  void aClientItsActorRefusesIsSkippedAndTheBatchSucceeds() {
    node.runtime.failUpgradeOf(
        key(b), Failure.precondition("smooth upgrade refused, nothing changed: too old"));

    List<String> all = toEnd(batch(3, false));

    assertThat(all)
        .contains("POD-SKIPPED [" + pod(b) + "] smooth upgrade refused, nothing changed: too old")
        .contains("2 upgraded, 1 skipped (cannot be upgraded), 0 failed, 0 not started")
        .last()
        .isEqualTo("BATCH-SUCCESS all pods upgrade success in node node-1");
    assertThat(node.runtime.running(key(b)).orElseThrow().handle()).doesNotEndWith("-upgraded");
  }

  @Test
  void aFailureStartsNoMoreUpgrades() {
    String podB = pod(b);
    String podC = pod(c);
    node.runtime.failUpgradeOf(
        key(a), new Failure(Failure.Code.UNAVAILABLE, "the new pod did not take over"));

    List<String> all = toEnd(batch(1, false));

    assertThat(all)
        .anyMatch(l -> l.startsWith("POD-FAIL [") && l.endsWith("the new pod did not take over"))
        .contains(
            "not started after the failure (ignoreError goes on past one): " + podB + ", " + podC)
        .contains("0 upgraded, 0 skipped (cannot be upgraded), 1 failed, 2 not started")
        .last()
        .isEqualTo("BATCH-FAIL some pods upgrade failed in node node-1");
    assertThat(node.runtime.upgrades()).isEqualTo(1);
  }

  @Test
  void withIgnoreErrorTheOthersAreUpgradedAndTheBatchStillFails() {
    node.runtime.failUpgradeOf(
        key(a), new Failure(Failure.Code.UNAVAILABLE, "the new pod did not take over"));

    List<String> all = toEnd(batch(1, true));

    assertThat(all)
        .contains("2 upgraded, 0 skipped (cannot be upgraded), 1 failed, 0 not started")
        .last()
        .isEqualTo("BATCH-FAIL some pods upgrade failed in node node-1");
    assertThat(node.runtime.upgrades()).isEqualTo(3);
  }

  @Test
  void aSecondBatchFollowsTheFirstAndASingleUpgradeWaitsForItsEnd() {
    String podA = pod(a);
    node.runtime.holdUpgrades(true);
    TestProbe<Line> first = batch(0, false);
    assertThat(until(first, "Start to upgrade pod " + podA))
        .first()
        .asString()
        .contains("1 at a time (asked 0)");

    TestProbe<Line> second = batch(5, true);
    List<String> joined = until(second, "Start to upgrade pod " + podA);
    assertThat(joined.getFirst()).startsWith("upgrade is still running");
    TestProbe<ClientUpgrades.Outcome> single = kit.createTestProbe();
    upgrades.tell(new NodeUpgrades.UpgradeOne(podA, single.getRef()));
    ClientUpgrades.Outcome refused = single.receiveMessage(NodeHarness.WAIT);
    assertThat(refused.status()).isEqualTo(409);
    assertThat(refused.message()).contains("a batch upgrade is running on node node-1");

    for (int i = 0; i < 3; i++) {
      NodeHarness.eventually(() -> assertThat(node.runtime.heldUpgrades()).isEqualTo(1));
      node.runtime.releaseUpgrade();
    }
    String success = "BATCH-SUCCESS all pods upgrade success in node node-1";
    assertThat(toEnd(first)).last().isEqualTo(success);
    assertThat(toEnd(second)).last().isEqualTo(success);

    node.runtime.holdUpgrades(false);
    String upgradedA = pod(a);
    upgrades.tell(new NodeUpgrades.UpgradeOne(upgradedA, single.getRef()));
    assertThat(single.receiveMessage(NodeHarness.WAIT).status()).isEqualTo(200);
  }

  @Test
  void aClientThatDoesNotDescribeItselfIsNamedAsSkipped() {
    ActorRef<MountActor.Command> silent =
        kit.spawn(Behaviors.<MountActor.Command>ignore(), "silent-client");
    ActorRef<NodeGuardian.Command> guardian = kit.spawn(ListingGuardian.of(() -> List.of(silent)));
    ActorRef<NodeUpgrades.Command> alone = kit.spawn(NodeUpgrades.create(guardian, "node-2"));
    TestProbe<Line> lines = kit.createTestProbe();
    alone.tell(new NodeUpgrades.UpgradeAll(1, false, lines.getRef()));
    until(lines, "BATCH upgrade of the clients of node node-2: 1 at a time, stopping at a failure");

    node.advance(ClientViews.ASK_TIMEOUT.plusSeconds(1));

    assertThat(toEnd(lines))
        .contains(
            "POD-SKIPPED [silent-client] its client did not answer within 3 s (busy or stopping):"
                + " not asked to upgrade")
        .contains("0 upgraded, 1 skipped (cannot be upgraded), 0 failed, 0 not started")
        .last()
        .isEqualTo("BATCH-SUCCESS all pods upgrade success in node node-2");
    kit.stop(alone);
    kit.stop(guardian);
    kit.stop(silent);
  }

  @Test
  void theWorkersAreAtLeastOneAndAtMostTheGoDriversCap() {
    assertThat(NodeUpgrades.workers(0)).isEqualTo(1);
    assertThat(NodeUpgrades.workers(-3)).isEqualTo(1);
    assertThat(NodeUpgrades.workers(7)).isEqualTo(7);
    assertThat(NodeUpgrades.workers(51)).isEqualTo(50);
  }

  private String pod(VolumeSettings v) {
    ClientKey k = key(v);
    return node.runtime.running(k).orElseThrow().handle();
  }

  private TestProbe<Line> batch(int workers, boolean ignoreError) {
    TestProbe<Line> lines = kit.createTestProbe();
    upgrades.tell(new NodeUpgrades.UpgradeAll(workers, ignoreError, lines.getRef()));
    return lines;
  }

  /** The lines up to and with {@code last}. */
  private static List<String> until(TestProbe<Line> lines, String last) {
    List<String> texts = new ArrayList<>();
    while (texts.isEmpty() || !texts.getLast().equals(last)) {
      Line line = lines.receiveMessage(NodeHarness.WAIT);
      assertThat(line.end()).as("ended before %s: %s", last, texts).isFalse();
      texts.add(line.text());
    }
    return texts;
  }

  /** The lines up to the end. */
  private static List<String> toEnd(TestProbe<Line> lines) {
    List<String> texts = new ArrayList<>();
    for (Line line = lines.receiveMessage(NodeHarness.WAIT);
        !line.end();
        line = lines.receiveMessage(NodeHarness.WAIT)) {
      texts.add(line.text());
    }
    return texts;
  }
}

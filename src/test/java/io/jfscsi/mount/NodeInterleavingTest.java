package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static io.jfscsi.mount.NodeHarness.withDeleteDelay;
import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.Trials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import java.util.stream.Stream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Random sequences of publish, unpublish, failing publish, client crash, driver restart, lost
 * unpublish (pod gone) and passing time, against a model of what kubelet was told. After every
 * step, once the node has settled: every reference the model holds is recorded, bound and served by
 * the one running client of its volume, nothing else is mounted at a target, and a volume without a
 * delete delay runs no client without references.
 *
 * <p>Sequences are drawn from seeded {@link Random}s ({@link Trials}): a failure names its seed,
 * and {@code -Djfscsi.seed=N} replays it. Short sequences over two volumes and three pods make
 * collisions frequent; a long run covers fifty volumes and five hundred targets.
 */
class NodeInterleavingTest {

  /** Pods per volume in the long run: 50 volumes x 10 pods = 500 targets. */
  static final int PODS = 10;

  /** Every fifth volume has a delete delay. */
  static final List<VolumeSettings> VOLUMES =
      IntStream.range(0, 50)
          .mapToObj(
              i ->
                  i % 5 == 1
                      ? withDeleteDelay(volume("pv-" + i), Duration.ofSeconds(30))
                      : volume("pv-" + i))
          .toList();

  static ActorTestKit kit;

  @BeforeAll
  static void startActorSystem() {
    kit = ActorTestKit.create(ManualTime.config().withFallback(ConfigFactory.load()));
  }

  @AfterAll
  static void stopActorSystem() {
    kit.shutdownTestKit();
  }

  // ---- the steps --------------------------------------------------------------------------

  /** What the model expects: target -> (volume index, read-only). */
  record Ref(int volume, boolean readOnly) {}

  sealed interface Step {
    void run(NodeHarness node, Map<Path, Ref> model);
  }

  record Publish(int volume, int pod, boolean readOnly) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      StatusReply<Done> reply = node.publish(VOLUMES.get(volume), t, readOnly);
      Ref held = model.get(t);
      if (held != null && held.readOnly() != readOnly) {
        assertThat(NodeHarness.failureOf(reply).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
      } else {
        NodeHarness.assertOk(reply);
        model.put(t, new Ref(volume, readOnly));
      }
    }
  }

  record PublishFailingToBind(int volume, int pod) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      node.mounter.failNextBind();
      StatusReply<Done> reply = node.publish(VOLUMES.get(volume), t, false);
      node.mounter.clearInjectedFailures();
      Ref held = model.get(t);
      if (held == null) {
        assertThat(NodeHarness.failureOf(reply).code()).isEqualTo(Failure.Code.INTERNAL);
      } else if (held.readOnly()) {
        assertThat(NodeHarness.failureOf(reply).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
      } else {
        NodeHarness.assertOk(reply); // already bound: no bind needed
      }
    }
  }

  record Unpublish(int volume, int pod) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      node.unpublishOk(VOLUMES.get(volume).volumeId(), t);
      model.remove(t);
    }
  }

  record Crash(int volume) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.crashAndSettle(key(VOLUMES.get(volume)));
    }
  }

  record RestartDriver() implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.restartDriverAfterStops();
    }
  }

  /** kubelet removed a pod whose unpublish the driver never got; the reference check runs. */
  record PodGone(int pod) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.podGoneUnannounced("pod-" + pod, model);
    }
  }

  record TimePasses(int seconds) implements Step {
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.advance(Duration.ofSeconds(seconds));
    }
  }

  static Path target(NodeHarness node, int volume, int pod) {
    return node.target("pod-" + pod, VOLUMES.get(volume).volumeId());
  }

  /** A random step over the first {@code volumes} volumes and {@code pods} pods. */
  static Step step(Random r, int volumes, int pods) {
    int v = r.nextInt(volumes);
    int p = r.nextInt(pods);
    int w = r.nextInt(17); // weights: publish 6, unpublish 4, failing 1, crash 2, restart 1,
    if (w < 6) { // pod gone 1, time 2
      return new Publish(v, p, r.nextBoolean());
    } else if (w < 10) {
      return new Unpublish(v, p);
    } else if (w < 11) {
      return new PublishFailingToBind(v, p);
    } else if (w < 13) {
      return new Crash(v);
    } else if (w < 14) {
      return new RestartDriver();
    } else if (w < 15) {
      return new PodGone(p);
    }
    return new TimePasses(1 + r.nextInt(40));
  }

  static List<Step> scenario(Random r, int volumes, int pods, int minSteps, int maxSteps) {
    List<Step> steps = new ArrayList<>();
    int n = minSteps + r.nextInt(maxSteps - minSteps + 1);
    for (int i = 0; i < n; i++) {
      steps.add(step(r, volumes, pods));
    }
    return steps;
  }

  // ---- the property -----------------------------------------------------------------------

  @Test
  void everyReferenceIsServedAndNothingElseIsMounted() {
    Trials.run(
        "everyReferenceIsServedAndNothingElseIsMounted",
        30,
        r -> runSteps(scenario(r, 2, 3, 1, 20)));
  }

  /**
   * The same with stops that take real time (as a Mount Pod's grace period does): a publish that
   * finds its volume's client stopping waits for the stop and is served by a new client.
   */
  @Test
  void everyReferenceIsServedAndNothingElseIsMountedWhileStopsTakeTime() {
    Trials.run(
        "everyReferenceIsServedAndNothingElseIsMountedWhileStopsTakeTime",
        20,
        r -> runSteps(scenario(r, 2, 3, 1, 20), Duration.ofMillis(10 + r.nextInt(150))));
  }

  /** The scale the issue asks for: 50 volumes, 500 targets, invariants after every step. */
  @Test
  void aLongRunOverFiftyVolumesAndFiveHundredTargets() {
    Trials.run(
        "aLongRunOverFiftyVolumesAndFiveHundredTargets",
        1,
        r -> {
          List<Step> steps = new ArrayList<>();
          // Fill the node first, so that most of the 500 targets are published, then mix.
          for (int v = 0; v < VOLUMES.size(); v++) {
            for (int p = 0; p < PODS; p++) {
              if (r.nextInt(10) < 8) {
                steps.add(new Publish(v, p, r.nextInt(5) == 0));
              }
            }
          }
          steps.addAll(scenario(r, VOLUMES.size(), PODS, 300, 300));
          runSteps(steps);
        });
  }

  static void runSteps(List<Step> steps) {
    runSteps(steps, Duration.ZERO);
  }

  static void runSteps(List<Step> steps, Duration stopTime) {
    try {
      runStepsOrThrow(steps, stopTime);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  static void runStepsOrThrow(List<Step> steps, Duration stopTime) throws IOException {
    Path dir = Files.createTempDirectory("jfs-interleavings");
    NodeHarness node = new NodeHarness(kit, dir);
    node.runtime.stopsTake(stopTime);
    try {
      Map<Path, Ref> model = new HashMap<>();
      for (Step step : steps) {
        step.run(node, model);
        checkInvariants(node, model);
      }
    } finally {
      node.close();
      deleteRecursively(dir);
    }
  }

  enum Kind {
    PUBLISH,
    UNPUBLISH,
    CRASH
  }

  /**
   * A call kubelet makes, sent without waiting for the answers to the earlier ones, or a crash of
   * the volume's client (if it runs) between two sends.
   */
  record Call(Kind kind, int volume, int pod, boolean readOnly) {}

  static List<Call> burst(Random r) {
    List<Call> calls = new ArrayList<>();
    int n = 1 + r.nextInt(30);
    for (int i = 0; i < n; i++) {
      int w = r.nextInt(11);
      Kind kind = w < 6 ? Kind.PUBLISH : w < 10 ? Kind.UNPUBLISH : Kind.CRASH;
      calls.add(new Call(kind, r.nextInt(2), r.nextInt(3), r.nextInt(3) == 0));
    }
    return calls;
  }

  /**
   * Calls sent all at once, from one sender, reach each client in order: the answers and the end
   * state are those of the same calls made one after the other, however the actors' idle reports,
   * stops, restarts and route updates interleave with them.
   */
  @Test
  void callsInFlightTogetherEndAsIfMadeOneAfterTheOther() {
    Trials.run(
        "callsInFlightTogetherEndAsIfMadeOneAfterTheOther",
        20,
        r -> {
          try {
            runBurst(burst(r));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  /**
   * The same with stops that take real time (as a Mount Pod's grace period does): a publish that
   * finds its client stopping waits for the stop, and nothing is lost or leaked meanwhile.
   */
  @Test
  void callsInFlightTogetherEndAsIfMadeOneAfterTheOtherWhileStopsTakeTime() {
    Trials.run(
        "callsInFlightTogetherEndAsIfMadeOneAfterTheOtherWhileStopsTakeTime",
        10,
        r -> {
          try {
            runBurst(burst(r), Duration.ofMillis(10 + r.nextInt(150)));
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  static void runBurst(List<Call> calls) throws IOException {
    runBurst(calls, Duration.ZERO);
  }

  static void runBurst(List<Call> calls, Duration stopTime) throws IOException {
    Path dir = Files.createTempDirectory("jfs-bursts");
    NodeHarness node = new NodeHarness(kit, dir);
    node.runtime.stopsTake(stopTime);
    // A round waits 20 ms for an answer: enough rounds for a stop after every call.
    int rounds = 40 + (int) (calls.size() * stopTime.toMillis() / 20);
    try {
      Map<Path, Ref> model = new HashMap<>();
      Map<Integer, TestProbe<StatusReply<Done>>> replies = new TreeMap<>();
      Map<Integer, Boolean> expectOk = new HashMap<>();
      for (int i = 0; i < calls.size(); i++) {
        Call c = calls.get(i);
        VolumeSettings v = VOLUMES.get(c.volume());
        Path t = target(node, c.volume(), c.pod());
        TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
        switch (c.kind()) {
          case PUBLISH -> {
            node.guardian()
                .tell(new NodeGuardian.Publish(key(v), v, t, c.readOnly(), probe.getRef()));
            Ref held = model.get(t);
            boolean ok = held == null || held.readOnly() == c.readOnly();
            expectOk.put(i, ok);
            if (ok) {
              model.put(t, new Ref(c.volume(), c.readOnly()));
            }
          }
          case UNPUBLISH -> {
            node.guardian().tell(new NodeGuardian.Unpublish(v.volumeId(), t, probe.getRef()));
            expectOk.put(i, true);
            model.remove(t);
          }
          case CRASH -> {
            if (node.runtime.isRunning(key(v))) {
              node.runtime.crash(key(v), "crash in a burst");
            }
            continue;
          }
        }
        replies.put(i, probe);
      }
      // Publishes that wait for a restart need time to pass: let it, until every call is answered.
      for (int round = 0; !replies.isEmpty(); round++) {
        assertThat(round).as("calls never answered: %s", replies.keySet()).isLessThan(rounds);
        var it = replies.entrySet().iterator();
        while (it.hasNext()) {
          var e = it.next();
          StatusReply<Done> reply;
          try {
            reply = e.getValue().receiveMessage(Duration.ofMillis(round == 0 ? 500 : 20));
          } catch (AssertionError timeout) {
            break; // answers come in order per target, not overall: wait a round
          }
          it.remove();
          if (expectOk.get(e.getKey())) {
            NodeHarness.assertOk(reply);
          } else {
            assertThat(NodeHarness.failureOf(reply).code())
                .as("call %d: %s", e.getKey(), calls.get(e.getKey()))
                .isEqualTo(Failure.Code.ALREADY_EXISTS);
          }
        }
        node.advance(NodeHarness.MAX_BACKOFF);
      }
      settleRestarts(node);
      checkInvariants(node, model);
    } finally {
      node.close();
      deleteRecursively(dir);
    }
  }

  /** Lets restart backoffs pass until no client is broken or restarting any more. */
  static void settleRestarts(NodeHarness node) {
    for (int round = 0; ; round++) {
      boolean settled =
          node.views().stream()
              .noneMatch(
                  v ->
                      v.state() == ClientState.BROKEN
                          || v.state() == ClientState.RESTARTING
                          || v.state() == ClientState.STARTING);
      if (settled) {
        return;
      }
      assertThat(round).as("clients never settled: %s", node.views()).isLessThan(100);
      node.advance(NodeHarness.MAX_BACKOFF);
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  static void checkInvariants(NodeHarness node, Map<Path, Ref> model) {
    for (int v = 0; v < VOLUMES.size(); v++) {
      VolumeSettings volume = VOLUMES.get(v);
      ClientKey key = key(volume);
      int index = v;
      Map<Path, Ref> refs =
          model.entrySet().stream()
              .filter(e -> e.getValue().volume() == index)
              .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
      Set<String> names = refs.keySet().stream().map(Path::toString).collect(Collectors.toSet());
      if (!refs.isEmpty()) {
        ClientView view =
            node.awaitView(
                key,
                "serves " + names,
                cv -> cv.state() == ClientState.READY && Set.copyOf(cv.targets()).equals(names));
        RunningClient client = node.runtime.running(key).orElseThrow();
        assertThat(view.handle()).contains(client.handle());
        assertThat(node.runtime.record(key).map(ClientRecord::targets)).contains(names);
        refs.forEach(
            (t, ref) -> {
              assertThat(node.mounter.probe(t)).as("%s", t).isEqualTo(MountState.MOUNTED);
              assertThat(node.mounter.sameFileSystem(t, client.mountPath())).as("%s", t).isTrue();
              assertThat(node.mounter.readOnly(t)).as("%s", t).contains(ref.readOnly());
              assertThat(node.mounter.liveLayers(t)).as("%s", t).isEqualTo(1);
            });
      } else if (volume.deleteDelay().isZero()) {
        node.awaitGone(key);
        assertThat(node.runtime.record(key)).isEmpty();
      } else {
        node.view(key).ifPresent(view -> assertThat(view.targets()).isEmpty());
      }
      for (int pod = 0; pod < PODS; pod++) {
        Path t =
            node.podDir("pod-" + pod)
                .resolve("volumes/kubernetes.io~csi")
                .resolve(volume.volumeId())
                .resolve("mount");
        if (!refs.containsKey(t)) {
          assertThat(node.mounter.layers(t)).as("nothing mounted at %s", t).isZero();
        }
      }
    }
    assertThat(node.runtime.runningClients()).hasSizeLessThanOrEqualTo(VOLUMES.size());
  }

  static void deleteRecursively(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}

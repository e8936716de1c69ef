package io.jfscsi.mount;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.testing.Trials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The interleaving simulations of {@link NodeInterleavingTest} in a share mode: four volumes of two
 * StorageClasses (two volumes each, same settings, each its own subPath), so that the targets of
 * two volumes reference one client. Random sequences of publish, unpublish, an unpublish that names
 * the other volume of the client, client crash, driver restart, lost unpublish and passing time;
 * after every step: each class with references runs exactly one client, which holds, records and
 * serves every reference of both its volumes, each bound to ITS volume's sub-directory (also after
 * crashes and restarts); a class whose volumes have no reference left runs no client; nothing else
 * is mounted at a target.
 */
class ShareModeInterleavingTest {

  static final int CLASSES = 2;
  static final int PODS = 3;

  /** Volume i belongs to class i / 2. */
  static final List<VolumeSettings> VOLUMES =
      IntStream.range(0, 2 * CLASSES).mapToObj(i -> ofClass(i / 2, "pv-" + i)).toList();

  static ActorTestKit kit;

  @BeforeAll
  static void startActorSystem() {
    kit = ActorTestKit.create(ManualTime.config().withFallback(ConfigFactory.load()));
  }

  @AfterAll
  static void stopActorSystem() {
    kit.shutdownTestKit();
  }

  static VolumeSettings ofClass(int sc, String volumeId) {
    return SettingsParser.parse(
        new VolumeSource(
            volumeId,
            Map.of("name", "fs-" + sc, "metaurl", "redis://meta/" + sc),
            Map.of("subPath", "dirs/" + volumeId),
            List.of()));
  }

  static ClientKey keyOf(int volume) {
    return new ClientKey("sc-" + volume / 2, VOLUMES.get(volume).clientHash());
  }

  /** The other volume of the same class. */
  static int sibling(int volume) {
    return volume ^ 1;
  }

  record Ref(int volume, boolean readOnly) {}

  sealed interface Step {
    void run(NodeHarness node, Map<Path, Ref> model);
  }

  record Publish(int volume, int pod, boolean readOnly) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      StatusReply<Done> reply = node.publish(keyOf(volume), VOLUMES.get(volume), t, readOnly);
      Ref held = model.get(t);
      if (held != null && held.readOnly() != readOnly) {
        assertThat(NodeHarness.failureOf(reply).code()).isEqualTo(Failure.Code.ALREADY_EXISTS);
      } else {
        NodeHarness.assertOk(reply);
        model.put(t, new Ref(volume, readOnly));
      }
    }
  }

  record Unpublish(int volume, int pod) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      node.unpublishOk(VOLUMES.get(volume).volumeId(), t);
      model.remove(t);
    }
  }

  /** kubelet's unpublish of a target, naming the other volume of its client: nothing changes. */
  record UnpublishNamingTheSibling(int volume, int pod) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      Path t = target(node, volume, pod);
      StatusReply<Done> reply = node.unpublish(VOLUMES.get(sibling(volume)).volumeId(), t);
      if (model.containsKey(t)) {
        assertThat(NodeHarness.failureOf(reply).code()).isEqualTo(Failure.Code.NOT_FOUND);
      } else {
        NodeHarness.assertOk(reply); // nothing published there: nothing to do
      }
    }
  }

  record Crash(int volume) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.crashAndSettle(keyOf(volume));
    }
  }

  record RestartDriver() implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.restartDriverAfterStops();
    }
  }

  record PodGone(int pod) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.podGoneUnannounced("pod-" + pod, model);
    }
  }

  record TimePasses(int seconds) implements Step {
    @Override
    public void run(NodeHarness node, Map<Path, Ref> model) {
      node.advance(Duration.ofSeconds(seconds));
    }
  }

  static Path target(NodeHarness node, int volume, int pod) {
    return node.target("pod-" + pod, VOLUMES.get(volume).volumeId());
  }

  static Step step(Random r) {
    int v = r.nextInt(VOLUMES.size());
    int p = r.nextInt(PODS);
    int w = r.nextInt(17); // publish 6, unpublish 4, sibling 1, crash 2, restart 1, pod gone 1,
    if (w < 6) { // time 2
      return new Publish(v, p, r.nextInt(4) == 0);
    } else if (w < 10) {
      return new Unpublish(v, p);
    } else if (w < 11) {
      return new UnpublishNamingTheSibling(v, p);
    } else if (w < 13) {
      return new Crash(v);
    } else if (w < 14) {
      return new RestartDriver();
    } else if (w < 15) {
      return new PodGone(p);
    }
    return new TimePasses(1 + r.nextInt(40));
  }

  @Test
  void eachClassHasOneClientServingEveryTargetOfItsVolumesFromItsOwnDirectory() {
    Trials.run(
        "eachClassHasOneClientServingEveryTargetOfItsVolumesFromItsOwnDirectory",
        30,
        r -> {
          List<Step> steps = new ArrayList<>();
          int n = 1 + r.nextInt(25);
          for (int i = 0; i < n; i++) {
            steps.add(step(r));
          }
          runSteps(steps);
        });
  }

  static void runSteps(List<Step> steps) {
    try {
      Path dir = Files.createTempDirectory("jfs-share-interleavings");
      NodeHarness node = new NodeHarness(kit, dir);
      try {
        Map<Path, Ref> model = new HashMap<>();
        for (Step step : steps) {
          step.run(node, model);
          checkInvariants(node, model);
        }
      } finally {
        node.close();
        NodeInterleavingTest.deleteRecursively(dir);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  enum Kind {
    PUBLISH,
    UNPUBLISH,
    CRASH
  }

  record Call(Kind kind, int volume, int pod, boolean readOnly) {}

  /**
   * Calls of both volumes of a class sent at once, crashes of their client between them: the
   * answers and the end are those of the same calls one after the other.
   */
  @Test
  void callsOfBothVolumesInFlightTogetherEndAsIfMadeOneAfterTheOther() {
    Trials.run(
        "callsOfBothVolumesInFlightTogetherEndAsIfMadeOneAfterTheOther",
        20,
        r -> {
          List<Call> calls = new ArrayList<>();
          int n = 1 + r.nextInt(30);
          for (int i = 0; i < n; i++) {
            int w = r.nextInt(11);
            Kind kind = w < 6 ? Kind.PUBLISH : w < 10 ? Kind.UNPUBLISH : Kind.CRASH;
            calls.add(new Call(kind, r.nextInt(2), r.nextInt(PODS), r.nextInt(3) == 0));
          }
          try {
            runBurst(calls);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
  }

  static void runBurst(List<Call> calls) throws IOException {
    Path dir = Files.createTempDirectory("jfs-share-bursts");
    NodeHarness node = new NodeHarness(kit, dir);
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
                .tell(
                    new NodeGuardian.Publish(
                        keyOf(c.volume()), v, t, c.readOnly(), probe.getRef()));
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
            if (node.runtime.isRunning(keyOf(c.volume()))) {
              node.runtime.crash(keyOf(c.volume()), "crash in a burst");
            }
            continue;
          }
        }
        replies.put(i, probe);
      }
      for (int round = 0; !replies.isEmpty(); round++) {
        assertThat(round).as("calls never answered: %s", replies.keySet()).isLessThan(40);
        var it = replies.entrySet().iterator();
        while (it.hasNext()) {
          var e = it.next();
          StatusReply<Done> reply;
          try {
            reply = e.getValue().receiveMessage(Duration.ofMillis(round == 0 ? 500 : 20));
          } catch (AssertionError timeout) {
            break;
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
      NodeInterleavingTest.settleRestarts(node);
      checkInvariants(node, model);
    } finally {
      node.close();
      NodeInterleavingTest.deleteRecursively(dir);
    }
  }

  static void checkInvariants(NodeHarness node, Map<Path, Ref> model) {
    for (int sc = 0; sc < CLASSES; sc++) {
      int first = 2 * sc;
      ClientKey key = keyOf(first);
      Map<Path, Ref> refs =
          model.entrySet().stream()
              .filter(e -> e.getValue().volume() / 2 == first / 2)
              .collect(Collectors.toMap(Map.Entry::getKey, Map.Entry::getValue));
      Set<String> names = refs.keySet().stream().map(Path::toString).collect(Collectors.toSet());
      if (refs.isEmpty()) {
        node.awaitGone(key);
      } else {
        ClientView view =
            node.awaitView(
                key,
                "serves " + names,
                cv -> cv.state() == ClientState.READY && Set.copyOf(cv.targets()).equals(names));
        RunningClient client = node.runtime.running(key).orElseThrow();
        assertThat(view.handle()).contains(client.handle());
        ClientRecord record = node.runtime.record(key).orElseThrow();
        assertThat(record.targets()).isEqualTo(names);
        VolumeSettings own = SettingsParser.parse(record.source());
        refs.forEach(
            (t, ref) -> {
              VolumeSettings v = VOLUMES.get(ref.volume());
              // Recorded with its own volume, so that a restarted driver binds it there again.
              assertThat(record.sharedTargets().getOrDefault(t.toString(), TargetVolume.of(own)))
                  .as("recorded volume of %s", t)
                  .isEqualTo(TargetVolume.of(v));
              assertThat(view.targetVolumes()).containsEntry(t.toString(), v.volumeId());
              assertThat(node.mounter.probe(t)).as("%s", t).isEqualTo(MountState.MOUNTED);
              assertThat(node.mounter.sameFileSystem(t, client.mountPath())).as("%s", t).isTrue();
              assertThat(node.mounter.rootOf(t)).as("%s", t).contains("/" + v.subPath());
              assertThat(node.mounter.readOnly(t)).as("%s", t).contains(ref.readOnly());
              assertThat(node.mounter.liveLayers(t)).as("%s", t).isEqualTo(1);
            });
      }
    }
    for (int v = 0; v < VOLUMES.size(); v++) {
      for (int pod = 0; pod < PODS; pod++) {
        Path t =
            node.podDir("pod-" + pod)
                .resolve("volumes/kubernetes.io~csi")
                .resolve(VOLUMES.get(v).volumeId())
                .resolve("mount");
        if (!model.containsKey(t)) {
          assertThat(node.mounter.layers(t)).as("nothing mounted at %s", t).isZero();
        }
      }
    }
    assertThat(node.runtime.runningClients()).hasSizeLessThanOrEqualTo(CLASSES);
  }
}

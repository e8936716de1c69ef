package io.jfscsi.mount;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.testing.FakeContainerRecovery;
import io.jfscsi.testing.FakeMounter;
import io.jfscsi.testing.FakeRuntime;
import io.jfscsi.testing.TestClock;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.pattern.StatusReply;

/**
 * One simulated node for actor tests: a kubelet root with real pod directories in a temporary
 * directory, the fake mounter and runtime, a {@link NodeGuardian} over them, and a clock that moves
 * together with the test kit's {@link ManualTime}. A "driver restart" stops the guardian (and with
 * it every mount actor, without stopping their clients) and starts a new one on the same fakes.
 */
final class NodeHarness implements AutoCloseable {

  static final Duration MIN_BACKOFF = Duration.ofSeconds(1);
  static final Duration MAX_BACKOFF = Duration.ofSeconds(8);
  static final Duration RESET_AFTER = Duration.ofSeconds(5);
  static final Duration REFERENCE_CHECK = Duration.ofSeconds(60);
  static final Duration WAIT = Duration.ofSeconds(3);
  static final Duration ANSWER_DEADLINE = Duration.ofSeconds(100);
  static final Duration RETRY_GRACE = Duration.ofSeconds(150);

  final ActorTestKit kit;
  final Path kubeletRoot;
  final FakeMounter mounter = new FakeMounter();
  final FakeContainerRecovery containers = new FakeContainerRecovery();
  final TestClock clock = new TestClock();
  final FakeRuntime runtime;
  final MountSettings settings;
  private ActorRef<NodeGuardian.Command> guardian;

  NodeHarness(ActorTestKit kit, Path tempDir) {
    this.kit = kit;
    this.kubeletRoot = tempDir.resolve("kubelet");
    Path mountRoot = tempDir.resolve("jfs");
    try {
      Files.createDirectories(kubeletRoot);
      Files.createDirectories(mountRoot);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    this.runtime = new FakeRuntime(mounter, mountRoot, clock);
    this.settings =
        new MountSettings(
            kubeletRoot,
            MIN_BACKOFF,
            MAX_BACKOFF,
            RESET_AFTER,
            REFERENCE_CHECK,
            ANSWER_DEADLINE,
            RETRY_GRACE);
    startDriver();
  }

  // ---- volumes and targets --------------------------------------------------------------

  /** Settings as the (skeleton) parser makes them from a secret with {@code name, metaurl}. */
  static VolumeSettings volume(String volumeId) {
    return volume(volumeId, Map.of());
  }

  static VolumeSettings volume(String volumeId, Map<String, String> context) {
    return SettingsParser.parse(
        new VolumeSource(
            volumeId,
            Map.of("name", "fs-" + volumeId, "metaurl", "redis://meta/" + volumeId),
            context,
            List.of()));
  }

  /** The same settings with a delayed exit (built directly: the skeleton parser has none). */
  static VolumeSettings withDeleteDelay(VolumeSettings v, Duration delay) {
    return new VolumeSettings(
        v.source(),
        v.fsName(),
        v.metaUrl(),
        v.storage(),
        v.bucket(),
        v.accessKey(),
        v.secretKey(),
        v.formatOptions(),
        v.envs(),
        v.configs(),
        v.mountOptions(),
        v.subPath(),
        delay,
        v.cleanCache(),
        v.cacheDirs(),
        v.resources(),
        v.mountImage(),
        v.cachePvc(),
        v.clientHash());
  }

  static ClientKey key(VolumeSettings v) {
    return new ClientKey(v.volumeId(), v.clientHash());
  }

  /**
   * The target kubelet would pass for {@code pod}: its parent (the pod's volume directory) exists,
   * the target itself does not yet.
   */
  Path target(String pod, String volumeId) {
    Path dir = podDir(pod).resolve("volumes/kubernetes.io~csi").resolve(volumeId);
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return dir.resolve("mount");
  }

  Path podDir(String pod) {
    return kubeletRoot.resolve("pods").resolve(pod);
  }

  /** The pod is gone: kubelet removed its whole directory. */
  void deletePod(String pod) {
    try (Stream<Path> walk = Files.walk(podDir(pod))) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  // ---- the CSI calls --------------------------------------------------------------------

  ActorRef<NodeGuardian.Command> guardian() {
    return guardian;
  }

  /** Sends a publish and returns the probe its answer will reach. */
  TestProbe<StatusReply<Done>> sendPublish(VolumeSettings v, Path target, boolean readOnly) {
    TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Publish(key(v), v, target, readOnly, probe.getRef()));
    return probe;
  }

  /**
   * Sends a publish whose client is {@code key} (in a share mode its unique id is not the volume's)
   * and returns the probe its answer will reach.
   */
  TestProbe<StatusReply<Done>> sendPublish(
      ClientKey key, VolumeSettings v, Path target, boolean readOnly) {
    TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Publish(key, v, target, readOnly, probe.getRef()));
    return probe;
  }

  StatusReply<Done> publish(ClientKey key, VolumeSettings v, Path target, boolean readOnly) {
    return sendPublish(key, v, target, readOnly).receiveMessage(WAIT);
  }

  StatusReply<Done> publish(VolumeSettings v, Path target, boolean readOnly) {
    return sendPublish(v, target, readOnly).receiveMessage(WAIT);
  }

  void publishOk(VolumeSettings v, Path target) {
    assertOk(publish(v, target, false));
  }

  StatusReply<Done> unpublish(String volumeId, Path target) {
    TestProbe<StatusReply<Done>> probe = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Unpublish(volumeId, target, probe.getRef()));
    return probe.receiveMessage(WAIT);
  }

  void unpublishOk(String volumeId, Path target) {
    assertOk(unpublish(volumeId, target));
  }

  StatusReply<TargetStats> stats(String volumeId, Path target) {
    TestProbe<StatusReply<TargetStats>> probe = kit.createTestProbe();
    guardian.tell(new NodeGuardian.VolumeStats(volumeId, target, probe.getRef()));
    return probe.receiveMessage(WAIT);
  }

  static void assertOk(StatusReply<?> reply) {
    assertThat(reply.isSuccess())
        .as("expected success, got %s", reply.isError() ? reply.getError() : reply)
        .isTrue();
  }

  /** The {@link Failure} a reply carries, asserting that it is an error. */
  static Failure failureOf(StatusReply<?> reply) {
    assertThat(reply.isError()).as("expected an error, got %s", reply).isTrue();
    assertThat(reply.getError()).isInstanceOf(Failure.class);
    return (Failure) reply.getError();
  }

  // ---- looking inside -------------------------------------------------------------------

  /** Every client the guardian runs, as its actor describes itself. */
  List<ClientView> views() {
    TestProbe<List<ActorRef<MountActor.Command>>> list = kit.createTestProbe();
    guardian.tell(new NodeGuardian.ListClients(list.getRef()));
    List<ActorRef<MountActor.Command>> actors = list.receiveMessage(WAIT);
    List<ClientView> views = new ArrayList<>();
    TestProbe<ClientView> describe = kit.createTestProbe();
    for (ActorRef<MountActor.Command> actor : actors) {
      actor.tell(new MountActor.Describe(describe.getRef()));
      views.add(describe.receiveMessage(Duration.ofMillis(500)));
    }
    return views;
  }

  /** Returns once the guardian has handled every message sent to it before this call. */
  void guardianBarrier() {
    TestProbe<List<ActorRef<MountActor.Command>>> list = kit.createTestProbe();
    guardian.tell(new NodeGuardian.ListClients(list.getRef()));
    list.receiveMessage(WAIT);
  }

  Optional<ClientView> view(ClientKey key) {
    return views().stream().filter(v -> v.key().equals(key.name())).findFirst();
  }

  /** Waits until the client of {@code key} shows a view matching {@code condition}. */
  ClientView awaitView(ClientKey key, String what, Predicate<ClientView> condition) {
    return eventually(
        () -> {
          Optional<ClientView> v = view(key);
          assertThat(v).as("client %s", key).isPresent();
          assertThat(condition.test(v.get()))
              .as("client %s %s; it is %s", key, what, v.get())
              .isTrue();
          return v.get();
        });
  }

  ClientView awaitState(ClientKey key, ClientState state) {
    return awaitView(key, "is " + state, v -> v.state() == state);
  }

  /**
   * Waits until the guardian runs no client for {@code key}, the runtime runs none either and its
   * record is gone (a stopping actor is no longer listed but may still be cleaning up).
   */
  void awaitGone(ClientKey key) {
    eventually(
        () -> {
          assertThat(view(key)).as("actor of %s", key).isEmpty();
          assertThat(runtime.isRunning(key)).as("client %s running", key).isFalse();
          assertThat(runtime.record(key)).as("record of %s", key).isEmpty();
          return null;
        });
  }

  /** Retries {@code check} until it stops throwing, for up to three seconds. */
  static <T> T eventually(Supplier<T> check) {
    return eventually(WAIT, check);
  }

  /** Retries {@code check} until it stops throwing, for up to {@code within}. */
  static <T> T eventually(Duration within, Supplier<T> check) {
    long deadline = System.nanoTime() + within.toNanos();
    while (true) {
      try {
        return check.get();
      } catch (AssertionError e) {
        if (System.nanoTime() > deadline) {
          throw e;
        }
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError(e);
      }
    }
  }

  // ---- time and restarts ----------------------------------------------------------------

  /** Moves the wall clock and the actors' scheduler forward together. */
  void advance(Duration by) {
    clock.advance(by);
    ManualTime.get(kit.system()).timePasses(by);
  }

  /**
   * The driver process ends without stopping anything (its clients keep running) and a new one
   * starts on the same node: same runtime records, same mounts, same pod directories.
   */
  void restartDriver() {
    stopDriver();
    startDriver();
  }

  // ---- steps the interleaving simulations share --------------------------------------

  /**
   * The client of {@code key}, if it runs, crashes; waits until it was restarted (with references)
   * or is gone or going (without), then lets the longest back-off pass.
   */
  void crashAndSettle(ClientKey key) {
    if (!runtime.isRunning(key)) {
      return;
    }
    int restarts = view(key).map(ClientView::restarts).orElse(0);
    runtime.crash(key, "crash");
    eventually(
        () -> {
          var v = view(key);
          assertThat(
                  v.isEmpty()
                      || v.get().restarts() > restarts
                      || v.get().state() == ClientState.DRAINING)
              .isTrue();
          return null;
        });
    advance(MAX_BACKOFF);
  }

  /**
   * {@link #restartDriver} once the stops underway have ended: a real driver's stops end with its
   * process; in one JVM they would outlive the old guardian and race the new one.
   */
  void restartDriverAfterStops() {
    eventually(
        () -> {
          assertThat(runtime.stopsUnderway()).isZero();
          return null;
        });
    restartDriver();
  }

  /**
   * kubelet removed {@code pod} without the driver getting its unpublishes: its targets leave
   * {@code model} and the mounter, its directory goes, and the reference check runs.
   */
  void podGoneUnannounced(String pod, Map<Path, ?> model) {
    Path dir = podDir(pod);
    if (!Files.exists(dir)) {
      return;
    }
    model
        .keySet()
        .removeIf(
            t -> {
              if (t.startsWith(dir)) {
                mounter.forget(t);
                return true;
              }
              return false;
            });
    deletePod(pod);
    advance(REFERENCE_CHECK);
  }

  /** The driver process ends; its clients keep running and its records stay. */
  void stopDriver() {
    kit.stop(guardian, WAIT);
    guardian = null;
  }

  void startDriver() {
    // On the dispatcher the driver gives it, so that the simulation shares threads as the driver
    // does.
    guardian =
        kit.spawn(
            NodeGuardian.create(runtime, mounter, containers, settings, clock),
            DispatcherSelector.fromConfig(NodeGuardian.OWN_THREAD_DISPATCHER));
  }

  @Override
  public void close() {
    if (guardian != null) {
      kit.stop(guardian, WAIT);
      guardian = null;
    }
  }
}

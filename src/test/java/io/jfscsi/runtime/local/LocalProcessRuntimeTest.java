package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.TestVolumes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The embedded default with real bindfs clients and real FUSE mounts, as root. */
class LocalProcessRuntimeTest {
  @TempDir Path base;
  Path data;
  LocalRuntimeConfig config;
  LinuxMounter mounter = new LinuxMounter();
  List<ClientExit> exits = new CopyOnWriteArrayList<>();
  Consumer<ClientExit> onExit = exits::add;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    data = Files.createDirectory(base.resolve("data"));
    config =
        LocalRuntimeConfig.under(base)
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10));
  }

  @AfterEach
  void cleanUp() throws Exception {
    HostCleanup.killAndUnmountUnder(base);
    assertThat(HostCleanup.mountsUnder(base)).as("mounts left behind").isEmpty();
  }

  private LocalProcessRuntime runtime() {
    return new LocalProcessRuntime(config, mounter);
  }

  private static RunningClient started(
      LocalProcessRuntime rt,
      VolumeSettings s,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit) {
    return rt.start(TestVolumes.keyOf(s), s, previous, onExit).toCompletableFuture().join();
  }

  private static Failure failureOf(Runnable r) {
    try {
      r.run();
    } catch (CompletionException e) {
      assertThat(e.getCause()).isInstanceOf(Failure.class);
      return (Failure) e.getCause();
    }
    throw new AssertionError("expected a Failure");
  }

  @Test
  void aStopReturnsAtOnceAndCompletesOnceAClientThatIgnoresSigtermIsKilledAfterItsGrace()
      throws Exception {
    // bindfs keeps an inherited "ignore SIGTERM" (libfuse installs its handler only over the
    // default): this client leaves only at the SIGKILL after the grace.
    Path stubborn = base.resolve("bin").resolve("bindfs");
    Files.createDirectories(stubborn.getParent());
    Files.writeString(
        stubborn, "#!/bin/sh\ntrap '' TERM\nexec " + config.bindfsBinary() + " \"$@\"\n");
    Files.setPosixFilePermissions(stubborn, PosixFilePermissions.fromString("rwx------"));
    Duration grace = Duration.ofSeconds(2);
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config
                .withBindfsBinary(stubborn)
                .withTimeouts(Duration.ofSeconds(10), grace, Duration.ofSeconds(10)),
            mounter);
    VolumeSettings s = TestVolumes.local("vol-slow", data);
    RunningClient client = started(rt, s, Optional.empty(), onExit);
    long pid = Long.parseLong(client.handle());
    assertThat(ProcInfo.cmdline(pid).getFirst()).endsWith("bindfs");

    long asked = System.nanoTime();
    CompletableFuture<Void> stop = rt.stop(client).toCompletableFuture();
    Duration returned = Duration.ofNanos(System.nanoTime() - asked);
    Thread.sleep(grace.toMillis() / 2);
    assertThat(stop).as("a stop still in its grace").isNotDone();
    assertThat(ProcInfo.isRunning(pid)).as("the client ignored SIGTERM").isTrue();

    stop.get(grace.toSeconds() + 15, TimeUnit.SECONDS);
    Duration took = Duration.ofNanos(System.nanoTime() - asked);
    System.out.printf(
        "stop() returned in %d ms; the client was gone after %d ms%n",
        returned.toMillis(), took.toMillis());
    assertThat(returned).isLessThan(Duration.ofMillis(500));
    assertThat(took).isGreaterThanOrEqualTo(grace);
    assertThat(ProcInfo.isRunning(pid)).isFalse();
    assertThat(mounter.isMountPoint(client.mountPath())).isFalse();
    assertThat(client.mountPath()).doesNotExist();
    assertThat(exits).as("a deliberate stop is no death").isEmpty();
  }

  @Test
  void localDirectoryVolumeRunsBindfsInItsOwnSession() throws Exception {
    LocalProcessRuntime rt = runtime();
    VolumeSettings s = TestVolumes.local("vol-a", data);
    RunningClient client = started(rt, s, Optional.empty(), onExit);

    long pid = Long.parseLong(client.handle());
    assertThat(client.mountPath())
        .isEqualTo(base.resolve("volume").resolve(TestVolumes.keyOf(s).name()));
    // setsid exec'd in place: the pid we hold is bindfs itself, leading its own session.
    assertThat(ProcInfo.cmdline(pid).getFirst()).endsWith("bindfs");
    long sid = ProcInfo.stat(pid).orElseThrow().session();
    assertThat(sid)
        .isEqualTo(pid)
        .isNotEqualTo(ProcInfo.stat(ProcessHandle.current().pid()).orElseThrow().session());
    assertThat(mounter.entryAt(client.mountPath()).orElseThrow().fsType()).startsWith("fuse");
    // No pipe to the JVM (its death would SIGPIPE the client): stdin /dev/null, output to the log.
    Path fds = Path.of("/proc", client.handle(), "fd");
    assertThat(Files.readSymbolicLink(fds.resolve("0"))).isEqualTo(Path.of("/dev/null"));
    assertThat(Files.readSymbolicLink(fds.resolve("1"))).isEqualTo(rt.logFileOf(client.key()));
    assertThat(Files.readSymbolicLink(fds.resolve("2"))).isEqualTo(rt.logFileOf(client.key()));
    assertThat(
            PosixFilePermissions.toString(
                Files.getPosixFilePermissions(rt.logFileOf(client.key()))))
        .isEqualTo("rw-------");

    Files.writeString(client.mountPath().resolve("hello.txt"), "through fuse");
    assertThat(data.resolve("hello.txt")).hasContent("through fuse");
    assertThat(rt.logFileOf(client.key())).exists();

    rt.stop(client).toCompletableFuture().join();
    assertThat(ProcInfo.isRunning(pid)).isFalse();
    assertThat(mounter.isMountPoint(client.mountPath())).isFalse();
    assertThat(client.mountPath()).doesNotExist();
    assertThat(data.resolve("hello.txt")).hasContent("through fuse");
    rt.stop(client).toCompletableFuture().join(); // idempotent
    Thread.sleep(300);
    assertThat(exits).as("a deliberate stop is not reported as an exit").isEmpty();
  }

  @Test
  void clientSurvivesDriverRestartAndIsAdopted() throws Exception {
    VolumeSettings s = TestVolumes.local("vol-b", data);
    LocalProcessRuntime first = runtime();
    RunningClient client = started(first, s, Optional.empty(), e -> {});
    first.save(
        new ClientRecord(
            client.key(),
            s.source(),
            Set.of("/pods/x/target"),
            Optional.empty(),
            Optional.of(client)));

    // A new driver: a new runtime instance that knows only what was saved.
    LocalProcessRuntime second = runtime();
    ClientRecord record = second.load().getFirst();
    assertThat(record.running()).contains(client);
    VolumeSettings reparsed = SettingsParser.parse(record.source());
    RunningClient adopted =
        second.start(record.key(), reparsed, record.running(), onExit).toCompletableFuture().join();

    assertThat(adopted).isEqualTo(client);
    assertThat(HostCleanup.processesUnder(client.mountPath()))
        .containsExactly(Long.parseLong(client.handle()));
    Files.writeString(data.resolve("before.txt"), "still here");
    assertThat(adopted.mountPath().resolve("before.txt")).hasContent("still here");

    second.stop(adopted).toCompletableFuture().join();
    assertThat(ProcInfo.isRunning(Long.parseLong(client.handle()))).isFalse();
    assertThat(adopted.mountPath()).doesNotExist();
    Thread.sleep(500);
    assertThat(exits).isEmpty();
  }

  @Test
  void killedClientReportsExitOnceAndIsReplacedByTheNextStart() throws Exception {
    LocalProcessRuntime rt = runtime();
    VolumeSettings s = TestVolumes.local("vol-c", data);
    Files.writeString(data.resolve("f"), "data");
    RunningClient client = started(rt, s, Optional.empty(), onExit);
    long pid = Long.parseLong(client.handle());

    new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();
    await().atMost(Duration.ofSeconds(5)).until(() -> exits.size() == 1);
    assertThat(exits.getFirst().client()).isEqualTo(client);
    assertThat(exits.getFirst().reason()).contains(Long.toString(pid)).contains("signal 9");
    // Stale: still in the mount table, and a request that reaches the (dead) server fails. Not
    // checked with probe(): a stat of the root is answered from cached attributes for ~1s.
    assertThat(mounter.isMountPoint(client.mountPath())).isTrue();
    assertThatThrownBy(() -> Files.newDirectoryStream(client.mountPath()).close())
        .hasMessageContaining("Transport endpoint is not connected");

    List<ClientExit> secondExits = new CopyOnWriteArrayList<>();
    RunningClient fresh = started(rt, s, Optional.of(client), secondExits::add);
    assertThat(fresh.handle()).isNotEqualTo(client.handle());
    assertThat(fresh.mountPath()).isEqualTo(client.mountPath());
    assertThat(fresh.mountPath().resolve("f")).hasContent("data");
    assertThat(HostCleanup.mountsUnder(fresh.mountPath())).hasSize(1);
    Thread.sleep(300);
    assertThat(exits).hasSize(1);
    rt.stop(fresh).toCompletableFuture().join();
    assertThat(secondExits).isEmpty();
  }

  @Test
  void aClientsDeathIsSeenWhileTheCommonPoolIsBusy() throws Exception {
    LocalProcessRuntime rt = runtime();
    RunningClient client = started(rt, TestVolumes.local("vol-p", data), Optional.empty(), onExit);
    // Every worker of the JVM-wide common pool blocked, as any library in the driver could.
    CountDownLatch release = new CountDownLatch(1);
    int workers = ForkJoinPool.getCommonPoolParallelism();
    CountDownLatch busy = new CountDownLatch(workers);
    for (int i = 0; i < workers; i++) {
      ForkJoinPool.commonPool()
          .execute(
              () -> {
                busy.countDown();
                try {
                  release.await();
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                }
              });
    }
    try {
      assertThat(busy.await(5, TimeUnit.SECONDS)).isTrue();
      new ProcessBuilder("kill", "-9", client.handle()).start().waitFor();
      await().atMost(Duration.ofSeconds(5)).until(() -> exits.size() == 1);
      assertThat(exits.getFirst().reason()).contains("signal 9");
    } finally {
      release.countDown();
    }
  }

  @Test
  void hungClientIsNotAdoptedButKilledAndReplaced() throws Exception {
    config =
        config.withTimeouts(Duration.ofSeconds(10), Duration.ofMillis(300), Duration.ofSeconds(10));
    LinuxMounter quick = new LinuxMounter(Duration.ofMillis(300));
    LocalProcessRuntime rt = new LocalProcessRuntime(config, quick);
    VolumeSettings s = TestVolumes.local("vol-h", data);
    RunningClient client = started(rt, s, Optional.empty(), e -> {});
    long pid = Long.parseLong(client.handle());
    new ProcessBuilder("kill", "-STOP", Long.toString(pid)).start().waitFor();

    // A new driver finds the process alive but its mount not answering: not adoptable.
    RunningClient fresh =
        started(new LocalProcessRuntime(config, quick), s, Optional.of(client), onExit);
    assertThat(fresh.handle()).isNotEqualTo(client.handle());
    assertThat(ProcInfo.isRunning(pid)).isFalse();
    Files.writeString(data.resolve("g"), "fresh");
    assertThat(fresh.mountPath().resolve("g")).hasContent("fresh");
    assertThat(HostCleanup.mountsUnder(fresh.mountPath())).hasSize(1);
  }

  @Test
  void missingDirectoryIsNotFound() {
    LocalProcessRuntime rt = runtime();
    VolumeSettings s = TestVolumes.local("vol-d", base.resolve("nope"));
    Failure f = failureOf(() -> started(rt, s, Optional.empty(), onExit));
    assertThat(f.code()).isEqualTo(Failure.Code.NOT_FOUND);
    assertThat(f.getMessage())
        .contains(base.resolve("nope").toString())
        .contains("does not exist")
        .doesNotContain(TestVolumes.SECRET_KEY);
    assertThat(rt.mountPathOf(TestVolumes.keyOf(s))).doesNotExist();
  }

  @Test
  void clientThatExitsAtOnceFailsWithTheRedactedTailOfItsLog() throws Exception {
    Path fake =
        fakeBindfs(
            "echo \"using key "
                + TestVolumes.SECRET_KEY
                + "\"\necho 'fuse: cannot mount, bad option' >&2\nexit 3\n");
    config = config.withBindfsBinary(fake);
    LocalProcessRuntime rt = runtime();
    VolumeSettings s = TestVolumes.local("vol-e", data);
    Failure f = failureOf(() -> started(rt, s, Optional.empty(), onExit));
    assertThat(f.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(f.getMessage())
        .contains("status 3")
        .contains("fuse: cannot mount, bad option")
        .contains("using key " + Redactor.MASK)
        .doesNotContain(TestVolumes.SECRET_KEY);
    assertThat(rt.mountPathOf(TestVolumes.keyOf(s))).doesNotExist();
    assertThat(exits).isEmpty();
  }

  @Test
  void clientThatNeverMountsIsKilledAfterTheReadyTimeout() throws Exception {
    Path fake = fakeBindfs("echo waiting\nexec sleep 600\n");
    config =
        config
            .withBindfsBinary(fake)
            .withTimeouts(Duration.ofMillis(700), Duration.ofSeconds(2), Duration.ofSeconds(5));
    LocalProcessRuntime rt = runtime();
    VolumeSettings s = TestVolumes.local("vol-f", data);
    Failure f = failureOf(() -> started(rt, s, Optional.empty(), onExit));
    assertThat(f.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(f.getMessage()).contains("did not answer").contains("waiting");
    assertThat(HostCleanup.processesUnder(base.resolve("volume"))).isEmpty();
  }

  @Test
  void readyWhenBindfsAndDirectoriesAreThere() {
    assertThat(runtime().ready()).isTrue();
    config =
        config
            .withBindfsBinary(base.resolve("no-bindfs"))
            .withJuicefsBinary(base.resolve("no-juicefs"));
    assertThat(runtime().ready()).isFalse();
  }

  @Test
  void cleanCacheOfALocalVolumeDoesNothing() throws Exception {
    Files.writeString(data.resolve("keep"), "x");
    runtime().cleanCache(TestVolumes.local("vol-g", data)).toCompletableFuture().join();
    assertThat(data.resolve("keep")).exists();
  }

  private Path fakeBindfs(String body) throws Exception {
    Path script = base.resolve("bin").resolve("bindfs");
    Files.createDirectories(script.getParent());
    Files.writeString(script, "#!/bin/sh\n" + body);
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }
}

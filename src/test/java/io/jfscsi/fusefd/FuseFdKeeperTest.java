package io.jfscsi.fusefd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.io.BufferedReader;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The keeper against a peer that speaks the JuiceFS client's side of the exchange exactly
 * (src/test/c/fuse-fd-peer.c, compiled here with gcc), over a real Unix socket with real
 * SCM_RIGHTS. The descriptor handed over is a FIFO opened read-write: an open file whose identity
 * (its inode) and whose buffer (what one holder writes, another reads) show that the very same open
 * file went round, as a FUSE connection would.
 */
class FuseFdKeeperTest {
  static ActorTestKit kit;
  static Path peer;

  @TempDir Path dir;

  @BeforeAll
  static void compilePeer() throws Exception {
    if (kit != null) {
      return;
    }
    HostRequirements.require(
        Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc (apt-get install gcc)");
    peer = Files.createTempDirectory("fuse-fd-peer").resolve("fuse-fd-peer");
    Process gcc =
        new ProcessBuilder(
                "gcc",
                "-O2",
                "-Wall",
                "-Werror",
                "-o",
                peer.toString(),
                "src/test/c/fuse-fd-peer.c")
            .inheritIO()
            .start();
    assertThat(gcc.waitFor()).as("gcc of the peer").isZero();
    kit = ActorTestKit.create();
  }

  @AfterAll
  static void shutdown() {
    if (kit != null) {
      kit.shutdownTestKit();
      kit = null;
    }
  }

  @Test
  void aClientsDescriptorOutlivesItAndTheNextClientGetsTheSameOpenFile() throws Exception {
    Path fifo = fifo();
    ActorRef<FuseFdKeeper.Command> keeper = keeper("vol-a", dir);
    Path socket = dir.resolve(FuseFdProtocol.KEEPER_SOCKET);

    // A first client finds nothing held: the keeper offers "FUSE" and its placeholder only.
    assertThat(run("take", socket.toString())).containsExactly("nothing", "setting=FUSE");

    List<String> lent = run("lend", socket.toString(), fifo.toString(), "INIT-1");
    String ino = "ino=" + Files.getAttribute(fifo, "unix:ino");
    assertThat(lent).containsExactly(ino);
    // The client that handed it in has exited; the keeper alone holds the FIFO open now.
    awaitHolding(keeper, Optional.of(fifo.toString()));

    // The next client gets the same open file and setting, writes into it and hands it back.
    assertThat(run("take-return", socket.toString(), "hello"))
        .containsExactly(ino, "setting=INIT-1");
    awaitHolding(keeper, Optional.of(fifo.toString()));
    try (FileInputStream read = new FileInputStream(fifo.toFile())) {
      assertThat(new String(read.readNBytes(5), StandardCharsets.US_ASCII)).isEqualTo("hello");
    }

    // A client that takes it and answers CLOSE leaves the keeper without it.
    assertThat(run("take", socket.toString())).containsExactly(ino, "setting=INIT-1");
    awaitHolding(keeper, Optional.empty());
  }

  @Test
  void aClientThatHandsInADescriptorReplacesTheHeldOne() throws Exception {
    Path first = fifo();
    Path second = dir.resolve("other-fifo");
    mkfifo(second);
    ActorRef<FuseFdKeeper.Command> keeper = keeper("vol-b", dir);
    Path socket = dir.resolve(FuseFdProtocol.KEEPER_SOCKET);
    run("lend", socket.toString(), first.toString(), "ONE");
    awaitHolding(keeper, Optional.of(first.toString()));
    // Every connection is offered what the keeper holds (and the keeper lets go of it); a client
    // that hands its own in closes the offer, so the new client's connection replaces the old.
    run("lend", socket.toString(), second.toString(), "TWO");
    awaitHolding(keeper, Optional.of(second.toString()));
  }

  @Test
  void aRestartedKeeperTakesTheDescriptorBackFromTheClientThatStillRuns() throws Exception {
    Path fifo = fifo();
    // A socket left behind by a client that is gone must not stop the keeper.
    Files.createFile(dir.resolve("fuse_fd_comm.1"));
    Process supervisor =
        new ProcessBuilder(peer.toString(), "supervise", dir.toString(), fifo.toString())
            .redirectErrorStream(true)
            .start();
    try {
      BlockingQueue<String> said = lines(supervisor);
      assertThat(said.poll(10, TimeUnit.SECONDS)).isEqualTo("ready");
      String ino = "ino=" + Files.getAttribute(fifo, "unix:ino");

      ActorRef<FuseFdKeeper.Command> keeper = keeper("vol-c", dir);
      awaitHolding(keeper, Optional.of(fifo.toString()));
      // It took the descriptor and handed it straight back: the client holds it too.
      assertThat(said.poll(10, TimeUnit.SECONDS)).isEqualTo("gave");
      assertThat(said.poll(10, TimeUnit.SECONDS)).isEqualTo("got " + ino);

      // The driver stops (its keeper with it) and a new one starts: it holds the FIFO again.
      kit.stop(keeper, Duration.ofSeconds(10));
      assertThat(dir.resolve(FuseFdProtocol.KEEPER_SOCKET)).doesNotExist();
      ActorRef<FuseFdKeeper.Command> again = keeper("vol-c", dir);
      awaitHolding(again, Optional.of(fifo.toString()));
      assertThat(said.poll(10, TimeUnit.SECONDS)).isEqualTo("gave");
      assertThat(said.poll(10, TimeUnit.SECONDS)).isEqualTo("got " + ino);
    } finally {
      supervisor.destroy();
      supervisor.waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void aKeeperReopenedForTheSameClientKeepsItsSocketWhenTheOldOneStops() throws Exception {
    ActorRef<FuseFdKeeper.Command> old = keeper("vol-d", dir);
    ActorRef<FuseFdKeeper.Command> reopened = keeper("vol-d", dir);
    awaitHolding(reopened, Optional.empty()); // its setup, which binds the socket again, has run
    kit.stop(old, Duration.ofSeconds(10));
    Path socket = dir.resolve(FuseFdProtocol.KEEPER_SOCKET);
    assertThat(socket).exists();
    Path fifo = fifo();
    run("lend", socket.toString(), fifo.toString(), "AGAIN");
    awaitHolding(reopened, Optional.of(fifo.toString()));
  }

  private ActorRef<FuseFdKeeper.Command> keeper(String id, Path in) {
    ActorRef<FuseFdKeeper.Command> keeper =
        kit.spawn(FuseFdKeeper.create(id, in, Duration.ofSeconds(5)));
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> Files.exists(in.resolve(FuseFdProtocol.KEEPER_SOCKET)));
    return keeper;
  }

  private static void awaitHolding(ActorRef<FuseFdKeeper.Command> keeper, Optional<String> what) {
    TestProbe<FuseFdKeeper.KeeperView> probe = kit.createTestProbe();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () -> {
              keeper.tell(new FuseFdKeeper.Describe(probe.ref()));
              return probe.receiveMessage().holding().equals(what);
            });
  }

  private Path fifo() throws Exception {
    Path fifo = dir.resolve("fifo");
    mkfifo(fifo);
    return fifo;
  }

  private static void mkfifo(Path path) throws Exception {
    assertThat(new ProcessBuilder("mkfifo", path.toString()).start().waitFor()).isZero();
  }

  static List<String> run(String... args) throws Exception {
    String[] command = new String[args.length + 1];
    command[0] = peer.toString();
    System.arraycopy(args, 0, command, 1, args.length);
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    assertThat(p.waitFor(20, TimeUnit.SECONDS)).as("peer %s ends", args[0]).isTrue();
    List<String> out =
        new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
    assertThat(p.exitValue()).as("peer %s: %s", args[0], out).isZero();
    return out;
  }

  private static BlockingQueue<String> lines(Process p) {
    BlockingQueue<String> queue = new LinkedBlockingQueue<>();
    Thread.ofVirtual()
        .start(
            () -> {
              try (BufferedReader r =
                  new BufferedReader(
                      new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                r.lines().forEach(queue::add);
              } catch (IOException e) {
                queue.add("read failed: " + e);
              }
            });
    return queue;
  }
}

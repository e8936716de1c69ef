package io.jfscsi.fusefd;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's keepers as the Mount Pod runtime calls them ({@link FuseFdKeeping}): open is
 * idempotent, holding answers what the client's keeper holds, close drops it and the client's
 * directory, and a reopened keeper serves again.
 */
class FuseFdKeepersTest {
  static ActorTestKit kit;
  static FuseFdKeeping keeping;

  @TempDir Path dir;

  @BeforeAll
  static void start() throws Exception {
    HostRequirements.require(
        Files.isExecutable(Path.of("/usr/bin/gcc")), "gcc (apt-get install gcc)");
    FuseFdKeeperTest.compilePeer();
    kit = FuseFdKeeperTest.kit;
    keeping = FuseFdKeepers.keeping(kit.spawn(FuseFdKeepers.create()), kit.system());
  }

  @AfterAll
  static void stop() {
    FuseFdKeeperTest.shutdown();
  }

  @Test
  void openHoldingAndCloseAsTheRuntimeUsesThem() throws Exception {
    Path clientDir = dir.resolve("0123abcd");
    Path socket = clientDir.resolve(FuseFdProtocol.KEEPER_SOCKET);
    keeping.open("0123abcd", clientDir);
    keeping.open("0123abcd", clientDir); // a second open (an adoption) changes nothing
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(socket));
    assertThat(keeping.holding("0123abcd")).isEmpty();
    assertThat(keeping.holding("unknown")).isEmpty();

    Path fifo = dir.resolve("fifo");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    FuseFdKeeperTest.run("lend", socket.toString(), fifo.toString(), "INIT");
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> keeping.holding("0123abcd").equals(Optional.of(fifo.toString())));

    keeping.close("0123abcd");
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> !Files.exists(clientDir));
    assertThat(keeping.holding("0123abcd")).isEmpty();

    keeping.open("0123abcd", clientDir);
    Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> Files.exists(socket));
    assertThat(FuseFdKeeperTest.run("take", socket.toString()))
        .as("the reopened keeper holds nothing of before")
        .containsExactly("nothing", "setting=FUSE");
  }
}

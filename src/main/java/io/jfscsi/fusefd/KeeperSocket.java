package io.jfscsi.fusefd;

import io.jfscsi.host.FdSockets;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The thread that accepts connections on one keeper's socket and runs each exchange, asking the
 * keeper actor for its descriptor and telling it what came back. A platform thread: accept and
 * recvmsg are native calls, which would pin a virtual thread's carrier for as long as they block.
 * Connections are served one at a time, each bounded by the exchange timeout, as they are rare (a
 * client start, an upgrade).
 */
final class KeeperSocket {
  private static final Logger LOG = LoggerFactory.getLogger(KeeperSocket.class);

  private final int listening;
  private final Thread thread;

  private KeeperSocket(int listening, Thread thread) {
    this.listening = listening;
    this.thread = thread;
  }

  static KeeperSocket start(
      String upgradeId,
      Path dir,
      int listening,
      ActorRef<FuseFdKeeper.Command> keeper,
      ActorSystem<?> system,
      Duration timeout) {
    Thread thread =
        Thread.ofPlatform()
            .daemon()
            .name("fuse-fd-keeper-" + upgradeId)
            .unstarted(() -> run(upgradeId, dir, listening, keeper, system, timeout));
    thread.start();
    return new KeeperSocket(listening, thread);
  }

  /** Ends the accept loop (shutdown wakes accept) and waits briefly for the thread. */
  void close() {
    FdSockets.shutdown(listening);
    try {
      thread.join(Duration.ofSeconds(5));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    FdSockets.close(listening);
  }

  private static void run(
      String upgradeId,
      Path dir,
      int listening,
      ActorRef<FuseFdKeeper.Command> keeper,
      ActorSystem<?> system,
      Duration timeout) {
    reclaim(upgradeId, dir, keeper, timeout);
    while (true) {
      int conn;
      try {
        conn = FdSockets.accept(listening);
      } catch (RuntimeException e) {
        keeper.tell(new FuseFdKeeper.SocketEnded(e.getMessage()));
        return; // shut down by close(), or the socket broke
      }
      try {
        FuseFdProtocol.serve(
            conn,
            timeout,
            () -> lend(keeper, system, timeout),
            held -> keeper.tell(new FuseFdKeeper.Keep(held)));
      } catch (RuntimeException e) {
        LOG.warn("fuse fd keeper {}: an exchange failed: {}", upgradeId, e.getMessage());
      }
    }
  }

  /** Takes back the descriptor of a client that already runs in {@code dir}. */
  private static void reclaim(
      String upgradeId, Path dir, ActorRef<FuseFdKeeper.Command> keeper, Duration timeout) {
    List<Path> sockets;
    try {
      sockets = FuseFdProtocol.clientSockets(dir);
    } catch (IOException e) {
      LOG.warn("fuse fd keeper {}: cannot list {}: {}", upgradeId, dir, e.toString());
      return;
    }
    for (Path socket : sockets) {
      try {
        Optional<FuseFdProtocol.Held> held = FuseFdProtocol.reclaim(socket, timeout);
        if (held.isPresent()) {
          keeper.tell(new FuseFdKeeper.Keep(held.get()));
          LOG.info("fuse fd keeper {}: took the FUSE fd back from {}", upgradeId, socket);
          return;
        }
      } catch (RuntimeException e) {
        // A socket left by a client that is gone refuses the connection.
        LOG.info(
            "fuse fd keeper {}: nothing to take back from {}: {}",
            upgradeId,
            socket,
            e.getMessage());
      }
    }
  }

  private static Optional<FuseFdProtocol.Held> lend(
      ActorRef<FuseFdKeeper.Command> keeper, ActorSystem<?> system, Duration timeout) {
    try {
      return AskPattern.<FuseFdKeeper.Command, FuseFdKeeper.Lent>ask(
              keeper, FuseFdKeeper.Lend::new, timeout, system.scheduler())
          .toCompletableFuture()
          .get(timeout.toMillis() + 1000, TimeUnit.MILLISECONDS)
          .held();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Optional.empty();
    } catch (ExecutionException | TimeoutException e) {
      return Optional.empty();
    }
  }
}

package io.jfscsi.fusefd;

import io.jfscsi.host.FdSockets;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * Holds the FUSE connection of one JuiceFS client while that client is replaced, so that the kernel
 * mount, and every bind of it into app pods, never sees the connection end (JuiceFS CE ≥ 1.2.1,
 * "smooth upgrade"). The client finds the keeper through {@code JFS_SUPER_COMM}, the socket {@value
 * FuseFdProtocol#KEEPER_SOCKET} in a directory of its own ({@link KeeperSocket}).
 *
 * <p>The actor owns the descriptor: a connection on the socket takes it out with {@link Lend}
 * (ownership moves to the connection, which sends it and closes its copy) and brings one back with
 * {@link Keep}. So two connections never hand out the same descriptor and no lock guards it.
 */
public final class FuseFdKeeper {

  public sealed interface Command {}

  /** A connection asks for the descriptor; the keeper gives it away (it holds none after). */
  record Lend(ActorRef<Lent> replyTo) implements Command {}

  /** What {@link Lend} got: the descriptor and its setting, or nothing. */
  record Lent(Optional<FuseFdProtocol.Held> held) {}

  /** A descriptor a client handed in: kept when the keeper holds none, closed otherwise. */
  record Keep(FuseFdProtocol.Held held) implements Command {}

  /** What the keeper holds now, for views and for the upgrade's precondition. */
  public record Describe(ActorRef<KeeperView> replyTo) implements Command {}

  /**
   * @param holding what the held descriptor is open on ({@code /dev/fuse}, {@code pipe:[N]}), or
   *     empty when the keeper holds none (a client has it, or none handed one in yet)
   */
  public record KeeperView(String upgradeId, Path socket, Optional<String> holding) {}

  /** The accept loop's thread ended: the socket can no longer serve. */
  record SocketEnded(String why) implements Command {}

  private FuseFdKeeper() {}

  /** The socket this keeper bound, told from a later keeper's at the same path by its file. */
  private record Bound(Path path, Object file) {
    void removeIfOurs(ActorContext<Command> ctx) {
      try {
        if (Files.exists(path)
            && file.equals(Files.readAttributes(path, BasicFileAttributes.class).fileKey())) {
          Files.deleteIfExists(path);
        }
      } catch (IOException e) {
        ctx.getLog().warn("fuse fd keeper: cannot remove {}: {}", path, e.toString());
      }
    }
  }

  /**
   * A keeper for the client {@code upgradeId} whose directory is {@code dir}: it binds the socket
   * there (replacing a stale one) and first takes back a descriptor from a client that still runs
   * there (a driver restart), as the Go driver does.
   */
  public static Behavior<Command> create(String upgradeId, Path dir, Duration exchangeTimeout) {
    return Behaviors.setup(
        ctx -> {
          Files.createDirectories(dir);
          Path socket = dir.resolve(FuseFdProtocol.KEEPER_SOCKET);
          Files.deleteIfExists(socket);
          int listening = FdSockets.listen(socket);
          // A keeper reopened for the same client binds the same path before this one's stop
          // may have run: the stop removes the socket only while it is still this one's.
          Object socketFile = Files.readAttributes(socket, BasicFileAttributes.class).fileKey();
          KeeperSocket loop =
              KeeperSocket.start(
                  upgradeId, dir, listening, ctx.getSelf(), ctx.getSystem(), exchangeTimeout);
          return holding(ctx, upgradeId, new Bound(socket, socketFile), loop, Optional.empty());
        });
  }

  private static Behavior<Command> holding(
      ActorContext<Command> ctx,
      String upgradeId,
      Bound socket,
      KeeperSocket loop,
      Optional<FuseFdProtocol.Held> held) {
    return Behaviors.receive(Command.class)
        .onMessage(
            Lend.class,
            lend -> {
              lend.replyTo().tell(new Lent(held));
              return holding(ctx, upgradeId, socket, loop, Optional.empty());
            })
        .onMessage(
            Keep.class,
            keep -> {
              if (held.isPresent()) {
                // Two copies would be two owners; the first one handed in stays, as in Go.
                FdSockets.close(keep.held().fd());
                return Behaviors.same();
              }
              ctx.getLog()
                  .info(
                      "fuse fd keeper {}: holds {}",
                      upgradeId,
                      FuseFdProtocol.openOn(keep.held().fd()));
              return holding(ctx, upgradeId, socket, loop, Optional.of(keep.held()));
            })
        .onMessage(
            Describe.class,
            d -> {
              d.replyTo()
                  .tell(
                      new KeeperView(
                          upgradeId, socket.path(), held.map(h -> FuseFdProtocol.openOn(h.fd()))));
              return Behaviors.same();
            })
        .onMessage(
            SocketEnded.class,
            e -> {
              ctx.getLog().warn("fuse fd keeper {}: socket ended: {}", upgradeId, e.why());
              return Behaviors.same();
            })
        .onSignal(
            PostStop.class,
            s -> {
              loop.close();
              held.ifPresent(h -> FdSockets.close(h.fd()));
              socket.removeIfOurs(ctx);
              return Behaviors.same();
            })
        .build();
  }
}

package io.jfscsi.fusefd;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * The node's keepers, one child {@link FuseFdKeeper} per client by its upgrade id; the map of
 * children is this actor's alone. {@link #keeping} adapts it to the runtime's blocking calls.
 */
public final class FuseFdKeepers {
  private FuseFdKeepers() {}

  public sealed interface Command {}

  record Open(String upgradeId, Path dir) implements Command {}

  record Close(String upgradeId) implements Command {}

  record Describe(String upgradeId, ActorRef<Optional<FuseFdKeeper.KeeperView>> replyTo)
      implements Command {}

  private record KeeperView(
      FuseFdKeeper.KeeperView view, ActorRef<Optional<FuseFdKeeper.KeeperView>> replyTo)
      implements Command {}

  static final Duration EXCHANGE_TIMEOUT = Duration.ofSeconds(10);

  public static Behavior<Command> create() {
    return Behaviors.setup(ctx -> running(ctx, new HashMap<>(), new long[1]));
  }

  /** {@code spawned} counts keepers so that a reopened one never takes a stopping one's name. */
  private static Behavior<Command> running(
      ActorContext<Command> ctx, Map<String, Keeper> keepers, long[] spawned) {
    return Behaviors.receive(Command.class)
        .onMessage(
            Open.class,
            o -> {
              if (!keepers.containsKey(o.upgradeId())) {
                ActorRef<FuseFdKeeper.Command> ref =
                    ctx.spawn(
                        FuseFdKeeper.create(o.upgradeId(), o.dir(), EXCHANGE_TIMEOUT),
                        "fuse-fd-" + o.upgradeId() + "-" + spawned[0]++);
                keepers.put(o.upgradeId(), new Keeper(ref, o.dir()));
              }
              return Behaviors.same();
            })
        .onMessage(
            Close.class,
            c -> {
              Keeper k = keepers.remove(c.upgradeId());
              if (k != null) {
                ctx.stop(k.ref());
                removeDir(ctx, k.dir());
              }
              return Behaviors.same();
            })
        .onMessage(
            Describe.class,
            d -> {
              Keeper k = keepers.get(d.upgradeId());
              if (k == null) {
                d.replyTo().tell(Optional.empty());
              } else {
                k.ref()
                    .tell(
                        new FuseFdKeeper.Describe(
                            ctx.messageAdapter(
                                FuseFdKeeper.KeeperView.class,
                                v -> new KeeperView(v, d.replyTo()))));
              }
              return Behaviors.same();
            })
        .onMessage(
            KeeperView.class,
            v -> {
              v.replyTo().tell(Optional.of(v.view()));
              return Behaviors.same();
            })
        .build();
  }

  private record Keeper(ActorRef<FuseFdKeeper.Command> ref, Path dir) {}

  /** The client's files in its directory (state, sockets) go with it, as in the Go driver. */
  private static void removeDir(ActorContext<Command> ctx, Path dir) {
    try (Stream<Path> files = Files.walk(dir)) {
      for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      ctx.getLog().warn("cannot remove the fuse fd directory {}: {}", dir, e.toString());
    }
  }

  /** The blocking view of {@code keepers} for the runtime. */
  public static FuseFdKeeping keeping(ActorRef<Command> keepers, ActorSystem<?> system) {
    return new FuseFdKeeping() {
      @Override
      public void open(String upgradeId, Path dir) {
        keepers.tell(new Open(upgradeId, dir));
      }

      @Override
      public void close(String upgradeId) {
        keepers.tell(new Close(upgradeId));
      }

      @Override
      public Optional<String> holding(String upgradeId) {
        try {
          return AskPattern.<Command, Optional<FuseFdKeeper.KeeperView>>ask(
                  keepers,
                  r -> new Describe(upgradeId, r),
                  Duration.ofSeconds(5),
                  system.scheduler())
              .toCompletableFuture()
              .get(6, TimeUnit.SECONDS)
              .flatMap(FuseFdKeeper.KeeperView::holding);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return Optional.empty();
        } catch (Exception e) {
          return Optional.empty();
        }
      }
    };
  }
}

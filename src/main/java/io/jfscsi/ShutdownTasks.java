package io.jfscsi;

import java.util.concurrent.CompletableFuture;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;

/** What the driver closes when it stops, as tasks of Pekko's coordinated shutdown. */
final class ShutdownTasks {
  private ShutdownTasks() {}

  /** Closed when the driver stops serving, before the actors stop. */
  static void closeOnUnbind(ActorSystem<?> system, String name, Runnable close) {
    add(system, CoordinatedShutdown.PhaseServiceUnbind(), name, close);
  }

  /** Closed last, once the actors no longer use it (informers, API clients). */
  static void closeBeforeTerminate(ActorSystem<?> system, String name, Runnable close) {
    add(system, CoordinatedShutdown.PhaseBeforeActorSystemTerminate(), name, close);
  }

  private static void add(ActorSystem<?> system, String phase, String name, Runnable close) {
    CoordinatedShutdown.get(system)
        .addTask(
            phase,
            name,
            () -> {
              close.run();
              return CompletableFuture.completedFuture(Done.getInstance());
            });
  }
}

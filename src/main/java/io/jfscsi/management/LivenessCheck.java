package io.jfscsi.management;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/** Alive while the actor system runs (its HTTP server goes with it). */
public final class LivenessCheck implements Supplier<CompletionStage<Boolean>> {

  private final ActorSystem system;

  public LivenessCheck(ActorSystem system) {
    this.system = system;
  }

  @Override
  public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(!system.whenTerminated().isCompleted());
  }
}

package io.jfscsi;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.RecipientRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.japi.function.Function;
import org.apache.pekko.pattern.StatusReply;

/**
 * Asks of an actor whose answer is handled on the thread that delivers it.
 *
 * <p>Pekko's javadsl asks return Scala's {@code CompletableFuture} wrapper, whose non-async stages
 * ({@code thenApply}, {@code whenComplete}, {@code thenCompose}...) all run on {@code
 * ForkJoinPool.commonPool()}: one more thread hand-off per answer, and every answer of the process
 * funnels through a pool that has a single worker on two cores, so anything else that blocks a
 * common-pool thread holds up every CSI answer. The futures returned here are plain ones, completed
 * on the thread of the actor that replied (or the scheduler's, on timeout); the stages that follow
 * run there too, so they must not block.
 */
public final class Asks {
  private Asks() {}

  /** Runs a stage on the thread that completed the future it depends on. */
  private static final Executor SAME_THREAD = Runnable::run;

  public static <Q, R> CompletableFuture<R> ask(
      RecipientRef<Q> actor,
      Function<ActorRef<R>, Q> message,
      Duration timeout,
      Scheduler scheduler) {
    return onReplyThread(AskPattern.ask(actor, message, timeout, scheduler));
  }

  public static <Q, R> CompletableFuture<R> askWithStatus(
      RecipientRef<Q> actor,
      Function<ActorRef<StatusReply<R>>, Q> message,
      Duration timeout,
      Scheduler scheduler) {
    return onReplyThread(AskPattern.askWithStatus(actor, message, timeout, scheduler));
  }

  /** A plain future completed, without a hand-off, when {@code stage} completes. */
  static <T> CompletableFuture<T> onReplyThread(CompletionStage<T> stage) {
    CompletableFuture<T> plain = new CompletableFuture<>();
    // The Async variant with an executor is the one stage the wrapper does not move to the
    // common pool.
    stage.whenCompleteAsync(
        (value, error) -> {
          if (error != null) {
            plain.completeExceptionally(error);
          } else {
            plain.complete(value);
          }
        },
        SAME_THREAD);
    return plain;
  }
}

package io.jfscsi.host;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Runs system calls that a hung FUSE client can block forever (stat, statvfs, realpath) with a
 * deadline. Calls run on pooled daemon platform threads: a virtual thread would pin its carrier in
 * the native call, and a few hung ones would starve every virtual thread of the JVM; pooling saves
 * a thread start per probe (thousands a second under load). Calls with the same key share the one
 * in flight, so a client that stays stopped costs one blocked thread per path, not one per probe.
 */
final class TimedCalls {
  /** Grows with the calls in flight (hung ones included); idle threads end after a minute. */
  private static final ExecutorService THREADS =
      Executors.newCachedThreadPool(Thread.ofPlatform().daemon().name("timed-call-", 0).factory());

  private final Duration timeout;
  private final ConcurrentMap<String, CompletableFuture<Object>> inFlight =
      new ConcurrentHashMap<>();

  TimedCalls(Duration timeout) {
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.timeout = timeout;
  }

  Duration timeout() {
    return timeout;
  }

  /** The call's result, or empty when it did not return within the timeout (it keeps running). */
  <T> Optional<T> call(String key, Supplier<T> call) {
    CompletableFuture<Object> fresh = new CompletableFuture<>();
    CompletableFuture<Object> running = inFlight.putIfAbsent(key, fresh);
    if (running == null) {
      running = fresh;
      THREADS.execute(
          () -> {
            Object result = null;
            Throwable failure = null;
            try {
              result = call.get();
            } catch (Throwable t) {
              failure = t;
            }
            // Leave the map before answering, so whoever sees the answer never joins this call
            // again.
            inFlight.remove(key, fresh);
            if (failure != null) {
              fresh.completeExceptionally(failure);
            } else {
              fresh.complete(result);
            }
          });
    }
    return await(running);
  }

  /**
   * Waits out the deadline even when interrupted: the wait is bounded anyway, and calling an
   * interrupted probe STALE would make a caller unmount a healthy mount. The flag is restored.
   */
  @SuppressWarnings("unchecked")
  private <T> Optional<T> await(CompletableFuture<Object> running) {
    long deadline = System.nanoTime() + timeout.toNanos();
    boolean interrupted = false;
    try {
      while (true) {
        try {
          long left = deadline - System.nanoTime();
          return Optional.of((T) running.get(Math.max(0, left), TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } catch (TimeoutException e) {
      return Optional.empty();
    } catch (ExecutionException e) {
      switch (e.getCause()) {
        case RuntimeException r -> throw r;
        case Error err -> throw err;
        default -> throw new IllegalStateException(e.getCause());
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }
}

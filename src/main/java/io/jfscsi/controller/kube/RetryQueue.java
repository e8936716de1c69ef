package io.jfscsi.controller.kube;

import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Keys of work done one at a time on one thread of its own, as client-go's rate-limited work queue
 * does for a controller: a key waits in the queue at most once however often it is added, and a key
 * whose work failed comes back after an exponential backoff that {@link #succeeded} or {@link
 * #forget} resets. Added keys are dropped once it is closed.
 */
final class RetryQueue implements AutoCloseable {

  /** The how-many-th failure in a row of a key, and when it is tried again. */
  record Retry(int attempt, Duration after) {}

  private final Duration min;
  private final Duration max;
  private final Consumer<String> work;
  private final ScheduledExecutorService worker;
  private final Set<String> queued = ConcurrentHashMap.newKeySet();
  private final Map<String, Integer> failures = new ConcurrentHashMap<>();
  private volatile boolean closed;

  RetryQueue(String threadName, Duration min, Duration max, Consumer<String> work) {
    this.min = min;
    this.max = max;
    this.work = work;
    this.worker =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, threadName);
              t.setDaemon(true);
              return t;
            });
  }

  /** Works on {@code key} as soon as the thread is free, unless it is queued already. */
  void add(String key) {
    add(key, Duration.ZERO);
  }

  /** Counts a failure of {@code key}'s work and queues it again after the backoff. */
  Retry failed(String key) {
    int attempt = failures.merge(key, 1, Integer::sum);
    Duration after = backoff(attempt);
    add(key, after);
    return new Retry(attempt, after);
  }

  void succeeded(String key) {
    failures.remove(key);
  }

  /** The key's object is gone: its failures no longer count. */
  void forget(String key) {
    failures.remove(key);
  }

  boolean closed() {
    return closed;
  }

  /** min, 2 min, 4 min, ... up to max. */
  Duration backoff(int attempt) {
    long minMs = min.toMillis();
    long maxMs = max.toMillis();
    long ms = attempt >= 31 ? maxMs : Math.min(maxMs, minMs << Math.min(attempt - 1, 30));
    return Duration.ofMillis(ms);
  }

  private void add(String key, Duration delay) {
    if (closed || !queued.add(key)) {
      return;
    }
    try {
      worker.schedule(
          () -> {
            queued.remove(key);
            if (!closed) {
              work.accept(key);
            }
          },
          delay.toMillis(),
          TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException e) {
      queued.remove(key);
    }
  }

  /** Drops what waits and interrupts the work under way, waiting for it at most {@code wait}. */
  void close(Duration wait) {
    closed = true;
    worker.shutdownNow();
    try {
      worker.awaitTermination(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  @Override
  public void close() {
    close(Duration.ZERO);
  }
}

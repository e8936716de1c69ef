package io.jfscsi.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;

class RetryQueueTest {

  @Test
  void theBackoffDoublesFromTheMinimumUpToTheMaximum() {
    try (RetryQueue q =
        new RetryQueue("t", Duration.ofMillis(500), Duration.ofSeconds(5), key -> {})) {
      assertThat(List.of(1, 2, 3, 4, 5, 31, 64).stream().map(q::backoff).toList())
          .containsExactly(
              Duration.ofMillis(500),
              Duration.ofSeconds(1),
              Duration.ofSeconds(2),
              Duration.ofSeconds(4),
              Duration.ofSeconds(5),
              Duration.ofSeconds(5),
              Duration.ofSeconds(5));
    }
  }

  @Test
  void aKeyAddedWhileItWaitsIsWorkedOnOnce() throws Exception {
    CountDownLatch busy = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    List<String> done = new CopyOnWriteArrayList<>();
    try (RetryQueue q =
        new RetryQueue(
            "t",
            Duration.ofMillis(1),
            Duration.ofMillis(1),
            key -> {
              if (key.equals("block")) {
                busy.countDown();
                await(release);
              }
              done.add(key);
            })) {
      q.add("block");
      await(busy);
      q.add("a");
      q.add("a");
      q.add("b");
      q.add("a");
      release.countDown();
      q.add("last");
      Awaitility.await().atMost(Duration.ofSeconds(10)).until(() -> done.size() == 4);
      assertThat(done).containsExactly("block", "a", "b", "last");
    }
  }

  @Test
  void aFailedKeyComesBackCountingItsAttemptsUntilItSucceeds() throws Exception {
    BlockingQueue<Integer> attempts = new LinkedBlockingQueue<>();
    AtomicInteger runs = new AtomicInteger();
    RetryQueue[] self = new RetryQueue[1];
    try (RetryQueue q =
        new RetryQueue(
            "t",
            Duration.ofMillis(1),
            Duration.ofMillis(4),
            key -> {
              if (runs.incrementAndGet() <= 3) {
                attempts.add(self[0].failed(key).attempt());
              } else {
                self[0].succeeded(key);
                attempts.add(0);
              }
            })) {
      self[0] = q;
      q.add("k");
      assertThat(List.of(take(attempts), take(attempts), take(attempts), take(attempts)))
          .containsExactly(1, 2, 3, 0);
      assertThat(q.failed("k").attempt()).as("success reset the count").isEqualTo(1);
    }
  }

  @Test
  void nothingIsWorkedOnAfterClose() throws Exception {
    List<String> done = new CopyOnWriteArrayList<>();
    RetryQueue q = new RetryQueue("t", Duration.ofSeconds(1), Duration.ofSeconds(1), done::add);
    q.failed("later");
    q.close(Duration.ofSeconds(1));
    q.add("now");
    assertThat(q.closed()).isTrue();
    assertThat(done).isEmpty();
  }

  private static int take(BlockingQueue<Integer> q) throws InterruptedException {
    Integer v = q.poll(10, TimeUnit.SECONDS);
    assertThat(v).as("the key came back").isNotNull();
    return v;
  }

  private static void await(CountDownLatch latch) {
    try {
      assertThat(latch.await(10, TimeUnit.SECONDS)).isTrue();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

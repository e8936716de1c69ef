package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class TimedCallsTest {
  private static final Duration TIMEOUT = Duration.ofMillis(200);

  private final TimedCalls timed = new TimedCalls(TIMEOUT);
  private final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void releaseHungCalls() {
    release.countDown();
  }

  private String hang() {
    try {
      release.await();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return "late";
  }

  @Test
  void aCallThatAnswersInTimeGivesItsResult() {
    assertThat(timed.call("k", () -> "ok")).contains("ok");
  }

  @Test
  void aCallThatHangsGivesNothingAfterTheTimeout() {
    long start = System.nanoTime();

    assertThat(timed.<String>call("k", this::hang)).isEmpty();
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isBetween(TIMEOUT, TIMEOUT.multipliedBy(5));
  }

  @Test
  void callsWithTheSameKeyJoinTheOneInFlightInsteadOfStartingAnother() {
    AtomicInteger started = new AtomicInteger();

    timed.call(
        "k",
        () -> {
          started.incrementAndGet();
          return hang();
        });
    timed.call(
        "k",
        () -> {
          started.incrementAndGet();
          return hang();
        });

    assertThat(started).hasValue(1);
  }

  @Test
  void aFinishedCallIsNotReusedForTheNextOne() {
    assertThat(timed.call("k", () -> "first")).contains("first");
    assertThat(timed.call("k", () -> "second")).contains("second");
  }

  @Test
  void anInterruptDoesNotCutTheWaitShortAndIsKept() {
    Thread.currentThread().interrupt();

    assertThat(timed.call("k", () -> "ok")).contains("ok");
    assertThat(Thread.interrupted()).isTrue();
  }

  @Test
  void aFailingCallRethrowsItsException() {
    assertThatThrownBy(
            () ->
                timed.call(
                    "k",
                    () -> {
                      throw new IllegalArgumentException("boom");
                    }))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("boom");
  }

  @Test
  void aNonPositiveTimeoutIsRejected() {
    assertThatThrownBy(() -> new TimedCalls(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

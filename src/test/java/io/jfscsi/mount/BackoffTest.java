package io.jfscsi.mount;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** A restart's delay doubles up to its ceiling, and a client that ran a while starts over. */
class BackoffTest {

  private final Backoff first = Backoff.between(Duration.ofSeconds(1), Duration.ofSeconds(5));

  @Test
  void eachTryWaitsTwiceAsLongAsTheOneBeforeUpToTheCeiling() {
    Backoff b = first;
    StringBuilder delays = new StringBuilder();
    for (int i = 0; i < 5; i++) {
      delays.append(b.delay().toSeconds()).append(' ');
      b = b.next();
    }
    assertThat(delays.toString()).isEqualTo("1 2 4 5 5 ");
    assertThat(b.tries()).isEqualTo(5);
  }

  @Test
  void aClientThatRanAtLeastTheResetTimeStartsOverFromTheShortestButKeepsItsCount() {
    Backoff climbed = first.next().next().next();
    Backoff forgiven = climbed.afterRunning(Duration.ofMinutes(10), Duration.ofMinutes(10));
    assertThat(forgiven.delay()).isEqualTo(Duration.ofSeconds(1));
    assertThat(forgiven.tries()).isEqualTo(3);
  }

  @Test
  void aClientThatCrashedSoonKeepsItsLongerDelay() {
    Backoff climbed = first.next().next();
    assertThat(climbed.afterRunning(Duration.ofSeconds(30), Duration.ofMinutes(10)))
        .isEqualTo(climbed);
  }
}

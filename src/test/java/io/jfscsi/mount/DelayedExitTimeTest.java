package io.jfscsi.mount;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** When an unreferenced client exits, and how its wait is cut into timer steps. */
class DelayedExitTimeTest {

  private static final Instant NOW = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void withoutADelayOrARecordedTimeTheClientExitsAtOnce() {
    assertThat(DelayedExit.exitTime(Duration.ZERO, Duration.ZERO, Optional.empty(), NOW)).isEmpty();
  }

  @Test
  void theDeleteDelayCountsFromNow() {
    assertThat(DelayedExit.exitTime(Duration.ofMinutes(5), Duration.ZERO, Optional.empty(), NOW))
        .contains(NOW.plus(Duration.ofMinutes(5)));
  }

  @Test
  void aClientWaitingForARetryWaitsAtLeastTheGraceEvenWithoutADelay() {
    assertThat(DelayedExit.exitTime(Duration.ZERO, Duration.ofSeconds(150), Optional.empty(), NOW))
        .contains(NOW.plusSeconds(150));
    assertThat(
            DelayedExit.exitTime(
                Duration.ofMinutes(10), Duration.ofSeconds(150), Optional.empty(), NOW))
        .contains(NOW.plus(Duration.ofMinutes(10)));
  }

  @Test
  void anExitTimeRecordedByAnEarlierDriverStandsWhateverTheDelayNow() {
    Instant recorded = NOW.plusSeconds(42);
    assertThat(DelayedExit.exitTime(Duration.ZERO, Duration.ZERO, Optional.of(recorded), NOW))
        .contains(recorded);
    assertThat(DelayedExit.exitTime(Duration.ofHours(3), Duration.ZERO, Optional.of(recorded), NOW))
        .contains(recorded);
  }

  @Test
  void aRecordedTimeBeyondTheLongestDelayIsBroughtToIt() {
    Instant farAway = NOW.plus(Duration.ofDays(100_000));
    assertThat(DelayedExit.exitTime(Duration.ZERO, Duration.ZERO, Optional.of(farAway), NOW))
        .contains(NOW.plus(VolumeSettings.MAX_DELETE_DELAY));
  }

  @Test
  void aLongWaitIsTakenInStepsTheSchedulerHolds() {
    assertThat(DelayedExit.nextStep(NOW, NOW.plus(Duration.ofDays(365))))
        .isEqualTo(DelayedExit.LONGEST_TIMER);
    assertThat(DelayedExit.nextStep(NOW, NOW.plusSeconds(30))).isEqualTo(Duration.ofSeconds(30));
    assertThat(DelayedExit.nextStep(NOW, NOW.minusSeconds(30))).isEqualTo(Duration.ZERO);
  }
}

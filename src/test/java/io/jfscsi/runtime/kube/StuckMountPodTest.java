package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.jfscsi.runtime.kube.StuckMountPod.Verdict;
import java.time.Duration;
import java.time.Instant;
import java.util.OptionalInt;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.Test;

/** When a Terminating Mount Pod counts as stuck, and what the switch and its connection decide. */
class StuckMountPodTest {
  private static final Instant DELETED = Instant.parse("2026-12-07T10:00:00Z");

  /** A pod deleted at DELETED with GRACE seconds: kubelet's deletionTimestamp is their sum. */
  private static Pod deleted(long grace) {
    return new PodBuilder()
        .withNewMetadata()
        .withName("juicefs-node-vol-abc123")
        .withDeletionTimestamp(DELETED.plusSeconds(grace).toString())
        .withDeletionGracePeriodSeconds(grace)
        .endMetadata()
        .withNewSpec()
        .withTerminationGracePeriodSeconds(grace)
        .endSpec()
        .build();
  }

  private static final LongSupplier NEVER_READ =
      () -> {
        throw new AssertionError("the connection's waiting count was read");
      };

  @Test
  void a_pod_that_is_not_being_deleted_is_never_stuck() {
    Pod running = new PodBuilder().withNewMetadata().withName("p").endMetadata().build();
    assertThat(StuckMountPod.of(running)).isEmpty();
  }

  @Test
  void a_short_grace_period_waits_one_minute_from_the_deletion() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    assertThat(pod.deletedAt()).isEqualTo(DELETED);
    assertThat(pod.stuckAt()).isEqualTo(DELETED.plusSeconds(60));
  }

  @Test
  void a_long_grace_period_waits_twice_the_grace_period() {
    assertThat(StuckMountPod.of(deleted(45)).orElseThrow().stuckAt())
        .isEqualTo(DELETED.plusSeconds(90));
  }

  @Test
  void the_spec_grace_period_counts_when_the_deletion_does_not_say() {
    Pod pod = deleted(40);
    pod.getMetadata().setDeletionGracePeriodSeconds(null);
    pod.getMetadata().setDeletionTimestamp(DELETED.plusSeconds(40).toString());
    assertThat(StuckMountPod.of(pod).orElseThrow().stuckAt()).isEqualTo(DELETED.plusSeconds(80));
  }

  @Test
  void before_its_time_nothing_is_read_and_the_verdict_says_when_to_look_again() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    assertThat(pod.decide(DELETED.plusSeconds(59), true, OptionalInt.of(96), NEVER_READ))
        .isEqualTo(new Verdict.NotYet(DELETED.plusSeconds(60)));
  }

  @Test
  void with_the_switch_off_a_stuck_pod_is_left_alone_without_reading_its_connection() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    assertThat(pod.decide(DELETED.plusSeconds(60), false, OptionalInt.of(96), NEVER_READ))
        .isEqualTo(new Verdict.SwitchOff());
  }

  @Test
  void with_the_switch_on_a_stuck_pod_with_waiting_requests_is_aborted() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    assertThat(pod.decide(DELETED.plus(Duration.ofMinutes(5)), true, OptionalInt.of(96), () -> 3))
        .isEqualTo(new Verdict.Abort(96, 3));
  }

  @Test
  void a_connection_with_nothing_waiting_or_gone_is_not_aborted() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    Instant late = DELETED.plusSeconds(61);
    assertThat(pod.decide(late, true, OptionalInt.of(96), () -> 0))
        .isEqualTo(new Verdict.NothingWaiting(0));
    assertThat(pod.decide(late, true, OptionalInt.of(96), () -> -1))
        .isEqualTo(new Verdict.NothingWaiting(0));
  }

  @Test
  void an_unknown_connection_is_not_aborted() {
    StuckMountPod pod = StuckMountPod.of(deleted(10)).orElseThrow();
    assertThat(pod.decide(DELETED.plusSeconds(61), true, OptionalInt.empty(), NEVER_READ))
        .isEqualTo(new Verdict.NoConnection());
  }
}

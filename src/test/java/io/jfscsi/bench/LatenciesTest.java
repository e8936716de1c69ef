package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.stream.LongStream;
import org.junit.jupiter.api.Test;

class LatenciesTest {

  @Test
  void nearest_rank_on_one_to_a_hundred() {
    long[] sorted = LongStream.rangeClosed(1, 100).toArray();
    assertThat(Latencies.percentile(sorted, 50)).isEqualTo(50);
    assertThat(Latencies.percentile(sorted, 99)).isEqualTo(99);
    assertThat(Latencies.percentile(sorted, 100)).isEqualTo(100);
    assertThat(Latencies.percentile(sorted, 1)).isEqualTo(1);
  }

  @Test
  void nearest_rank_rounds_the_rank_up() {
    long[] sorted = LongStream.rangeClosed(1, 10).toArray();
    assertThat(Latencies.percentile(sorted, 50)).isEqualTo(5);
    assertThat(Latencies.percentile(sorted, 51)).isEqualTo(6);
    assertThat(Latencies.percentile(sorted, 99)).isEqualTo(10);
    assertThat(Latencies.percentile(sorted, 0.1)).isEqualTo(1);
  }

  @Test
  void a_single_sample_is_every_percentile() {
    Latencies l = Latencies.of(new long[] {42});
    assertThat(l).isEqualTo(new Latencies(1, 42, 42, 42, 42));
  }

  @Test
  void unsorted_input_is_summarised_without_being_changed() {
    long[] samples = {9, 1, 7, 3, 5};
    Latencies l = Latencies.of(samples);
    assertThat(l.count()).isEqualTo(5);
    assertThat(l.p50()).isEqualTo(5);
    assertThat(l.p99()).isEqualTo(9);
    assertThat(l.max()).isEqualTo(9);
    assertThat(l.mean()).isEqualTo(5);
    assertThat(samples).containsExactly(9, 1, 7, 3, 5);
  }

  @Test
  void p99_of_a_thousand_skips_the_ten_slowest_but_one() {
    List<Long> values = new ArrayList<>(LongStream.rangeClosed(1, 1000).boxed().toList());
    Collections.shuffle(values, new Random(7));
    Latencies l = Latencies.of(values.stream().mapToLong(Long::longValue).toArray());
    assertThat(l.p50()).isEqualTo(500);
    assertThat(l.p99()).isEqualTo(990);
    assertThat(l.max()).isEqualTo(1000);
  }

  @Test
  void no_samples_is_none_and_ratio_is_nan() {
    assertThat(Latencies.of(new long[0])).isEqualTo(Latencies.NONE);
    assertThat(Latencies.ratioAtP50(Latencies.NONE, Latencies.of(new long[] {1}))).isNaN();
    assertThat(Latencies.ratioAtP50(Latencies.of(new long[] {30}), Latencies.of(new long[] {10})))
        .isEqualTo(3.0);
  }

  @Test
  void percentiles_outside_zero_to_a_hundred_are_refused() {
    long[] sorted = {1, 2};
    assertThatThrownBy(() -> Latencies.percentile(sorted, 0))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Latencies.percentile(sorted, 100.5))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> Latencies.percentile(new long[0], 50))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void milliseconds_keep_microseconds() {
    assertThat(Latencies.ms(1_234_567)).isEqualTo("1.235");
    assertThat(Latencies.ms(999)).isEqualTo("0.001");
  }
}

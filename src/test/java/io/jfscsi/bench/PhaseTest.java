package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The runner's accounting only: which samples count, errors, CPU per operation. No timings. */
class PhaseTest {

  private final ExecutorService pool = Executors.newFixedThreadPool(4);

  @AfterEach
  void stop() {
    pool.shutdownNow();
  }

  @Test
  void runs_every_operation_once_and_keeps_failures_out_of_the_samples() throws Exception {
    Set<Integer> ran = ConcurrentHashMap.newKeySet();
    List<Phase.Op> ops = new ArrayList<>();
    for (int i = 0; i < 50; i++) {
      int n = i;
      ops.add(
          () -> {
            ran.add(n);
            if (n % 10 == 0) {
              throw new IllegalStateException("op " + n + " failed");
            }
          });
    }
    Phase.Result r = Phase.run("test", pool, 4, ops);
    assertThat(ran).hasSize(50);
    assertThat(r.ops()).isEqualTo(50);
    assertThat(r.errors()).isEqualTo(5);
    assertThat(r.latencies()).hasSize(45);
    assertThat(r.firstErrors()).hasSize(5).allMatch(m -> m.endsWith("failed"));
    assertThat(r.summary().count()).isEqualTo(45);
    assertThat(r.driverCpuNanos()).isEqualTo(-1);
  }

  @Test
  void samples_of_several_rounds_are_concatenated_and_cpu_is_per_successful_op() {
    var a = new Phase.Result("a", 3, 30, new long[] {1, 2, 3}, 0, List.of(), 600, 0);
    var b = new Phase.Result("b", 4, 40, new long[] {4, 5}, 2, List.of("x", "y"), 300, 0);
    assertThat(Phase.samples(List.of(a, b))).containsExactly(1, 2, 3, 4, 5);
    assertThat(Phase.wall(List.of(a, b))).isEqualTo(70);
    assertThat(Phase.errors(List.of(a, b))).isEqualTo(2);
    assertThat(Phase.cpuPerOp(List.of(a, b))).isEqualTo(900 / 5);
    var unknown = new Phase.Result("c", 1, 1, new long[] {1}, 0, List.of(), -1, 0);
    assertThat(Phase.cpuPerOp(List.of(a, unknown))).isEqualTo(-1);
  }
}

package io.jfscsi.bench;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Runs a list of operations with a fixed number of concurrent callers, each taking the next
 * operation as soon as its previous one returned (closed loop, like kubelet's workers), and times
 * every operation and the whole phase. Callers are platform threads from the caller's pool so that
 * a native call (mount(2)) or a blocking gRPC call never shares a carrier.
 */
final class Phase {
  private Phase() {}

  /** One timed call; throwing counts as an error (and its time is not a latency sample). */
  @FunctionalInterface
  interface Op {
    void run() throws Exception;
  }

  /** What a phase measured. {@code latencies} holds successful operations only, in nanoseconds. */
  record Result(
      String name,
      int ops,
      long wallNanos,
      long[] latencies,
      int errors,
      List<String> firstErrors,
      long driverCpuNanos,
      long benchCpuNanos) {

    Latencies summary() {
      return Latencies.of(latencies);
    }

    double opsPerSecond() {
      return wallNanos == 0 ? Double.NaN : (ops - errors) / (wallNanos / 1e9);
    }
  }

  static Result run(String name, ExecutorService pool, int concurrency, List<Op> ops)
      throws InterruptedException {
    return run(name, pool, concurrency, ops, -1);
  }

  /**
   * With {@code driverPid} > 0 the result also carries the CPU time that process used during the
   * phase (to 10 ms, the kernel's accounting tick).
   */
  static Result run(
      String name, ExecutorService pool, int concurrency, List<Op> ops, long driverPid)
      throws InterruptedException {
    int n = ops.size();
    long[] times = new long[n];
    boolean[] failed = new boolean[n];
    // The first few error messages, from any caller thread.
    Queue<String> errors = new ConcurrentLinkedQueue<>();
    AtomicInteger next = new AtomicInteger();
    int callers = Math.max(1, Math.min(concurrency, n));
    CountDownLatch ready = new CountDownLatch(callers);
    CountDownLatch go = new CountDownLatch(1);
    List<Future<?>> running = new ArrayList<>();
    for (int c = 0; c < callers; c++) {
      running.add(
          pool.submit(
              () -> {
                ready.countDown();
                go.await();
                for (int i = next.getAndIncrement(); i < n; i = next.getAndIncrement()) {
                  long start = System.nanoTime();
                  try {
                    ops.get(i).run();
                    times[i] = System.nanoTime() - start;
                  } catch (Exception | AssertionError e) {
                    failed[i] = true;
                    if (errors.size() < 5) {
                      errors.add(String.valueOf(e.getMessage()));
                    }
                  }
                }
                return null;
              }));
    }
    ready.await();
    long cpuBefore = driverPid > 0 ? Host.cpuNanos(driverPid) : -1;
    long self = ProcessHandle.current().pid();
    long selfBefore = Host.cpuNanos(self);
    long start = System.nanoTime();
    go.countDown();
    for (Future<?> f : running) {
      try {
        f.get();
      } catch (ExecutionException e) {
        throw new IllegalStateException("a caller of phase " + name + " failed", e.getCause());
      }
    }
    long wall = System.nanoTime() - start;
    long cpu = cpuBefore < 0 ? -1 : Host.cpuNanos(driverPid) - cpuBefore;
    long selfCpu = Host.cpuNanos(self) - selfBefore;
    int errorCount = 0;
    long[] ok = new long[n];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (failed[i]) {
        errorCount++;
      } else {
        ok[k++] = times[i];
      }
    }
    return new Result(
        name, n, wall, Arrays.copyOf(ok, k), errorCount, List.copyOf(errors), cpu, selfCpu);
  }

  /** Concatenates the samples of several results of the same kind (e.g. rounds). */
  static long[] samples(List<Result> results) {
    return results.stream().flatMapToLong(r -> Arrays.stream(r.latencies())).toArray();
  }

  static long wall(List<Result> results) {
    return results.stream().mapToLong(Result::wallNanos).sum();
  }

  /** Driver CPU per successful operation in nanoseconds, or -1 when not measured. */
  static long cpuPerOp(List<Result> results) {
    if (results.isEmpty() || results.stream().anyMatch(r -> r.driverCpuNanos() < 0)) {
      return -1;
    }
    long ok = results.stream().mapToLong(r -> r.ops() - r.errors()).sum();
    return ok == 0 ? -1 : results.stream().mapToLong(Result::driverCpuNanos).sum() / ok;
  }

  static int errors(List<Result> results) {
    return results.stream().mapToInt(Result::errors).sum();
  }

  static List<String> firstErrors(List<Result> results) {
    return results.stream().flatMap(r -> r.firstErrors().stream()).limit(5).toList();
  }
}

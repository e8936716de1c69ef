package io.jfscsi.bench;

import java.util.Arrays;
import java.util.Locale;

/**
 * Latency figures of one kind of operation: count, p50, p99, max (nearest-rank percentiles over
 * every sample, no interpolation, no histogram buckets), all in nanoseconds.
 *
 * <p>Nearest rank: the p-th percentile of n sorted samples is the sample at rank {@code ceil(p /
 * 100 * n)} (1-based), so it is always a value that was measured, p100 is the maximum, and with
 * fewer than 100 samples p99 is the maximum.
 */
public record Latencies(int count, long p50, long p99, long max, long mean) {

  public static final Latencies NONE = new Latencies(0, 0, 0, 0, 0);

  /** Summarises {@code nanos} (not modified). */
  public static Latencies of(long[] nanos) {
    if (nanos.length == 0) {
      return NONE;
    }
    long[] sorted = nanos.clone();
    Arrays.sort(sorted);
    long sum = 0;
    for (long n : sorted) {
      sum += n;
    }
    return new Latencies(
        sorted.length,
        percentile(sorted, 50),
        percentile(sorted, 99),
        sorted[sorted.length - 1],
        sum / sorted.length);
  }

  /** Nearest-rank percentile of already sorted samples; {@code p} in (0, 100]. */
  public static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      throw new IllegalArgumentException("no samples");
    }
    if (!(p > 0 && p <= 100)) {
      throw new IllegalArgumentException("percentile must be in (0, 100]: " + p);
    }
    // ceil(p/100*n) computed in integer-safe steps; the epsilon keeps 50/100*10 at exactly 5.
    long rank = (long) Math.ceil(p / 100.0 * sorted.length - 1e-9);
    int index = (int) Math.max(0, Math.min(sorted.length - 1, rank - 1));
    return sorted[index];
  }

  /** {@code a / b} at p50, or NaN when either has no samples. */
  public static double ratioAtP50(Latencies a, Latencies b) {
    return a.count == 0 || b.count == 0 || b.p50 == 0 ? Double.NaN : (double) a.p50 / b.p50;
  }

  /** Milliseconds with microsecond precision, e.g. {@code 1.234}. */
  public static String ms(long nanos) {
    return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
  }

  @Override
  public String toString() {
    if (count == 0) {
      return "n=0";
    }
    return "n="
        + count
        + " p50="
        + ms(p50)
        + " ms p99="
        + ms(p99)
        + " ms max="
        + ms(max)
        + " ms mean="
        + ms(mean)
        + " ms";
  }
}

package io.jfscsi.bench;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;

/**
 * Plain-text tables and lines of figures, printed as they are measured, to the command's output
 * (picocli's {@code getOut()}: standard output unless a caller such as a test sets another).
 */
final class Report {
  private final PrintWriter out;

  Report(PrintWriter out) {
    this.out = out;
  }

  void title(String text) {
    out.println();
    out.println("== " + text);
    out.flush();
  }

  void line(String format, Object... args) {
    out.println(String.format(Locale.ROOT, format, args));
    out.flush(); // a line as soon as it is measured, whatever the writer
  }

  void header() {
    line(
        "  %-42s %7s %6s %10s %10s %10s %10s %10s %12s",
        "", "ops", "errors", "p50 ms", "p99 ms", "max ms", "mean ms", "ops/s", "drv CPU ms");
  }

  /** One row; {@code cpuPerOp} is the driver's CPU per operation (ns), -1 when unknown. */
  void row(String name, Latencies l, int ops, int errors, long wallNanos, long cpuPerOp) {
    double rate = wallNanos == 0 ? Double.NaN : (ops - errors) / (wallNanos / 1e9);
    line(
        "  %-42s %7d %6d %10s %10s %10s %10s %10.1f %12s",
        name,
        ops,
        errors,
        Latencies.ms(l.p50()),
        Latencies.ms(l.p99()),
        Latencies.ms(l.max()),
        Latencies.ms(l.mean()),
        rate,
        cpuPerOp < 0 ? "-" : Latencies.ms(cpuPerOp));
  }

  void row(String name, List<Phase.Result> results) {
    int ops = results.stream().mapToInt(Phase.Result::ops).sum();
    row(
        name,
        Latencies.of(Phase.samples(results)),
        ops,
        Phase.errors(results),
        Phase.wall(results),
        Phase.cpuPerOp(results));
  }

  void errors(String what, List<String> first) {
    for (String e : first) {
      line("  ! %s: %s", what, e);
    }
  }

  /** "met" or "NOT met" with the figure that decides it. */
  void target(String text, boolean met, String figure) {
    line("  target %-66s %-7s (%s)", text, met ? "met" : "NOT met", figure);
  }

  static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.3f s", nanos / 1e9);
  }

  static String mib(double mib) {
    return Double.isNaN(mib) ? "n/a" : String.format(Locale.ROOT, "%.1f MiB", mib);
  }
}

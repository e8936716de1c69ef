package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Smoke tests of {@code jfs-csi bench}, {@code bench recovery} and {@code bench scale} against a
 * real driver in a JVM of its own (real socket, real bindfs clients, real mounts), with tiny sizes:
 * not to measure anything, but so that a bench that breaks, miscounts, hides errors or leaves
 * mounts behind fails the build. Each run goes through picocli as {@code java -jar jfs-csi.jar
 * bench ...} would, with the report captured through the command's output writer.
 */
class BenchCommandTest {

  @TempDir Path dir;

  DriverFixture fixture;
  Process driver;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    // A short restart back-off so that bench recovery waits for the driver's reaction, not for
    // the default 1 s pause before a killed client is started again.
    fixture = new DriverFixture(dir).with("client.restart-backoff.min", "100ms");
    driver = fixture.startProcess();
  }

  @AfterEach
  void stop() throws Exception {
    if (fixture == null) {
      return; // skipped: no root or FUSE
    }
    // bench scale restarts the driver: the new process is not the fixture's, so it is found by
    // this test's socket on its command line and stopped by its pid.
    for (long pid : driversOfThisTest()) {
      var process = ProcessHandle.of(pid);
      if (process.isPresent()) {
        process.get().destroyForcibly();
        process.get().onExit().get(30, TimeUnit.SECONDS);
      }
    }
    // A bare plugin the bench failed to stop would outlive this test: stop it, then fail.
    List<ProcessHandle> bare = barePlugins();
    bare.forEach(ProcessHandle::destroyForcibly);
    fixture.close();
    assertThat(bare).as("bare plugins left running").isEmpty();
  }

  @Test
  void benchMeasuresEveryPairAndBaselineAndLeavesNothingMounted() throws Exception {
    int code =
        bench(
            "bench",
            "--volumes",
            "2",
            "--targets-per-volume",
            "3",
            "--concurrency",
            "2",
            "--rounds",
            "1",
            "--warmup-rounds",
            "0",
            "--warmup-pairs",
            "0");
    String report = out.toString();

    assertThat(code).as(report + err).isZero();
    assertThat(report)
        .contains(
            "== jfs-csi bench: 2 volumes x 3 targets, 2 callers, 1 rounds (+0 warm-up)",
            "== results (1 counted rounds, 6 pairs each way)",
            "driver pid " + driver.pid() + ": VmRSS ",
            "driver CPU during publish+unpublish phases: ");
    // The baseline binds the very directory the driver bound (the client's FUSE mount), not a
    // plain directory: otherwise the ratio compares different things.
    assertThat(line(report, "raw baseline binds: "))
        .contains("fuse mount of the client")
        .doesNotContain("plain directory");
    // The kubelet root's file system decides what a mkdir costs: the report names it.
    assertThat(line(report, "kubelet root's file system: "))
        .matches("kubelet root's file system: \\S+ \\S+ at /.*");
    noErrorLines(report);

    assertThat(row(report, "cold start (first publish)").ops).isEqualTo(2);
    for (String name :
        List.of(
            "driver publish",
            "driver unpublish",
            "bare plugin publish (gRPC+mkdir+bind)",
            "bare plugin unpublish (gRPC+umount+rmdir)",
            "raw bind (mkdir+mount)",
            "raw unmount (umount+rmdir)",
            "gRPC no-op (NodeGetCapabilities)",
            "Probe (gRPC + node actor ask)",
            "NodeGetVolumeStats")) {
      assertThat(row(report, name).ops).as(name).isEqualTo(6);
    }
    // The driver's time beyond the transport: publish p50 minus the no-op's p50.
    Matcher beyond =
        find(report, "beyond a gRPC no-op \\(([0-9.]+) ms\\) at p50: publish " + "(-?[0-9.]+) ms");
    assertThat(Double.parseDouble(beyond.group(2)))
        .isCloseTo(
            row(report, "driver publish").p50 - Double.parseDouble(beyond.group(1)),
            Assertions.within(0.002));
    Row publish = row(report, "driver publish");
    Row unpublish = row(report, "driver unpublish");
    Row bind = row(report, "raw bind (mkdir+mount)");
    // One measured round: its line in the round table (driver, bare plugin and raw columns),
    // and no warm-up line.
    assertThat(report)
        .containsPattern(
            "(?m)^round +publish +unpublish +bare publish +bare unpub"
                + " +raw bind +raw unmount ");
    assertThat(report).containsPattern("(?m)^1( +[0-9.]+; [0-9.]+){6}$");
    assertThat(report).doesNotContainPattern("(?m)^warm-up ");

    // throughput: driver X pairs/s (6 pairs in Y s), raw ...: X is 6 / Y.
    Matcher t =
        find(
            report,
            "throughput: driver ([0-9.]+) pairs/s \\(6 pairs in ([0-9.]+) s\\), "
                + "raw ([0-9.]+) pairs/s \\(([0-9.]+) s\\)");
    double driverRate = Double.parseDouble(t.group(1));
    double driverWall = Double.parseDouble(t.group(2));
    assertThat(driverRate).isPositive();
    // Both are rounded in the report: the rate to 0.1 pairs/s, the wall time to 1 ms.
    double rounding = 5e-4 + 6 * 0.05 / (driverRate * driverRate) + 1e-6;
    assertThat(6 / driverRate).as("6 pairs / rate = wall").isCloseTo(driverWall, within(rounding));
    assertThat(Double.parseDouble(t.group(3))).isPositive();
    // The driver's wall time covers at least the p50 of publish and of unpublish.
    assertThat(driverWall * 1000).isGreaterThanOrEqualTo(publish.p50 + unpublish.p50 - 1);

    // ratio driver/raw at p50: publish A x, ...: A is the publish row's p50 over raw bind's.
    Matcher ratio =
        find(
            report,
            "ratio driver/raw at p50: publish ([0-9.]+)x, unpublish ([0-9.]+)x, pair ([0-9.]+)x");
    assertThat(Double.parseDouble(ratio.group(1)))
        .isCloseTo(publish.p50 / bind.p50, within(0.06 + 0.05 * publish.p50 / bind.p50));
    assertThat(Double.parseDouble(ratio.group(3))).isPositive();
    assertThat(report)
        .containsPattern(
            "target whole call: driver on a ready client within 2x "
                + "of raw bind at p50 +(met|NOT met) ");

    // The bare plugin: on a socket of its own, its rows and ratios from the same p50s.
    Row barePublish = row(report, "bare plugin publish (gRPC+mkdir+bind)");
    Row bareUnpublish = row(report, "bare plugin unpublish (gRPC+umount+rmdir)");
    Row unmount = row(report, "raw unmount (umount+rmdir)");
    Matcher started =
        find(
            report,
            "bare plugin: pid (\\d+) on unix://(\\S+) \\(java "
                + "--enable-native-access=ALL-UNNAMED .*-XX:\\+UseSerialGC -Xmx64m; ");
    Matcher floor =
        find(
            report,
            "bare plugin / raw at p50: publish ([0-9.]+)x, unpublish "
                + "([0-9.]+)x, pair ([0-9.]+)x \\(the transport's floor\\)");
    assertThat(Double.parseDouble(floor.group(1)))
        .isCloseTo(barePublish.p50 / bind.p50, within(0.06 + 0.05 * barePublish.p50 / bind.p50));
    assertThat(Double.parseDouble(floor.group(2)))
        .isCloseTo(
            bareUnpublish.p50 / unmount.p50, within(0.06 + 0.05 * bareUnpublish.p50 / unmount.p50));
    Matcher extra =
        find(
            report,
            "driver beyond a bare plugin at p50: publish (-?[0-9.]+) ms "
                + "\\(-?[0-9.]+x raw bind\\), unpublish (-?[0-9.]+) ms \\(-?[0-9.]+x raw unmount\\), "
                + "pair (-?[0-9.]+) ms \\((-?[0-9.]+)x raw pair\\)");
    assertThat(Double.parseDouble(extra.group(1)))
        .isCloseTo(publish.p50 - barePublish.p50, within(0.002));
    assertThat(Double.parseDouble(extra.group(2)))
        .isCloseTo(unpublish.p50 - bareUnpublish.p50, within(0.002));
    double pairBeyond = publish.p50 + unpublish.p50 - barePublish.p50 - bareUnpublish.p50;
    assertThat(Double.parseDouble(extra.group(3))).isCloseTo(pairBeyond, within(0.004));
    Matcher second =
        find(
            report,
            "target driver overhead beyond a bare plugin within 2x of raw "
                + "bind at p50 +(met|NOT met) +\\(pair (-?[0-9.]+) ms beyond the bare plugin = "
                + "(-?[0-9.]+)x raw pair ([0-9.]+) ms\\)");
    assertThat(second.group(1))
        .isEqualTo(Double.parseDouble(second.group(3)) <= 2 ? "met" : "NOT met");
    assertThat(Double.parseDouble(second.group(4)))
        .isCloseTo(bind.p50 + unmount.p50, within(0.002));
    // Stopped when the bench returned: no process, no socket directory.
    long bare = Long.parseLong(started.group(1));
    assertThat(ProcessHandle.of(bare).map(ProcessHandle::isAlive))
        .as("bare plugin %d", bare)
        .isNotEqualTo(Optional.of(true));
    assertThat(Path.of(started.group(2)).getParent()).doesNotExist();
    assertThat(barePlugins()).isEmpty();
    assertThat(report).containsPattern("target >= 1000 pairs/s .* +(met|NOT met) ");

    // Nothing of the bench stays mounted under the kubelet root once it returns, and its pod
    // directories and data directory are gone; the clients stop after their last unpublish.
    assertThat(mountsUnder(fixture.kubelet)).isEmpty();
    assertThat(podDirectories()).isEmpty();
    assertThat(dir.resolve("bench-data")).doesNotExist();
    fixture.awaitNoClients();
  }

  @Test
  void warmupPairsRaiseTheWarmupRoundsAndWarmupIsNotCounted() throws Exception {
    // 2 volumes x 3 targets = 6 pairs a round: 10 warm-up pairs need 2 rounds. Without
    // --driver-pid, as it is usually run: the bench finds the serve process by its socket.
    int code =
        benchFindingTheDriver(
            "bench",
            "--volumes",
            "2",
            "--targets-per-volume",
            "3",
            "--concurrency",
            "2",
            "--rounds",
            "1",
            "--warmup-rounds",
            "0",
            "--warmup-pairs",
            "10",
            "--no-decompose");
    String report = out.toString();

    assertThat(code).as(report + err).isZero();
    assertThat(report)
        .contains(
            "== jfs-csi bench: 2 volumes x 3 targets, 2 callers, 1 rounds (+2 warm-up)",
            "== results (1 counted rounds, 6 pairs each way)",
            "driver pid " + driver.pid() + ": VmRSS ",
            "driver CPU during publish+unpublish phases: ");
    noErrorLines(report);
    // Of the warm-up, only its last round is shown; then the counted round.
    assertThat(Pattern.compile("(?m)^warm-up ").matcher(report).results().count()).isOne();
    assertThat(report).containsPattern("(?m)^1 +[0-9.]+; [0-9.]+ ");
    // The results hold the counted round only.
    for (String name :
        List.of(
            "driver publish",
            "driver unpublish",
            "bare plugin publish (gRPC+mkdir+bind)",
            "bare plugin unpublish (gRPC+umount+rmdir)",
            "raw bind (mkdir+mount)",
            "raw unmount (umount+rmdir)")) {
      assertThat(row(report, name).ops).as(name).isEqualTo(6);
    }
    assertThat(report).doesNotContain("gRPC no-op", "Probe (gRPC", "NodeGetVolumeStats");
    assertThat(barePlugins()).isEmpty();
    assertThat(mountsUnder(fixture.kubelet)).isEmpty();
    fixture.awaitNoClients();
  }

  @Test
  void noBarePluginSkipsItsPhasesAndLines() throws Exception {
    int code =
        bench(
            "bench",
            "--volumes",
            "1",
            "--targets-per-volume",
            "2",
            "--concurrency",
            "2",
            "--rounds",
            "1",
            "--warmup-rounds",
            "0",
            "--warmup-pairs",
            "0",
            "--no-decompose",
            "--no-bare-plugin");
    String report = out.toString();

    assertThat(code).as(report + err).isZero();
    noErrorLines(report);
    assertThat(row(report, "driver publish").ops).isEqualTo(2);
    assertThat(row(report, "raw bind (mkdir+mount)").ops).isEqualTo(2);
    assertThat(report).containsPattern("(?m)^1( +[0-9.]+; [0-9.]+){4}$");
    assertThat(report).contains("target whole call: driver on a ready client");
    assertThat(report).doesNotContain("bare plugin", "bare publish", "beyond a bare plugin");
    assertThat(mountsUnder(fixture.kubelet)).isEmpty();
    fixture.awaitNoClients();
  }

  @Test
  void recoveryReportsEveryTargetReadableAgainAfterTheClientIsKilled() throws Exception {
    int code =
        bench("bench", "recovery", "--targets", "5", "--concurrency", "2", "--timeout", "PT30S");
    String report = out.toString();

    assertThat(code).as(report + err).isZero();
    assertThat(report)
        .contains(
            "== jfs-csi bench recovery: 5 targets on one volume, client killed", "== results");
    noErrorLines(report);
    assertThat(report)
        .containsPattern(
            "published 5 targets: first \\(client start\\) [0-9.]+ ms, "
                + "the others p50 [0-9.]+ ms");
    Matcher killed =
        find(
            report,
            "client pid (\\d+) \\(fuse[^)]*\\) serves (\\S+) "
                + "\\(mount id \\d+\\); killing it with SIGKILL");
    assertThat(Path.of(killed.group(2))).startsWithRaw(dir);
    double gone = seconds(report, "kill -> client process gone: +([0-9.]+) s");
    double client = seconds(report, "kill -> client mount answers again: +([0-9.]+) s");
    double every = seconds(report, "kill -> every target readable again: +([0-9.]+) s");
    assertThat(report)
        .containsPattern(
            "kill -> target readable again: +n=5 p50=[0-9.]+ ms .*"
                + "\\(of 5 targets readable\\)");
    assertThat(report).doesNotContain("NOT RECOVERED", "never (timeout)");
    // Every clock starts at the kill; the targets are polled only once the client is gone.
    assertThat(client).isGreaterThan(0).isGreaterThanOrEqualTo(gone);
    assertThat(every).isGreaterThanOrEqualTo(gone).isLessThan(30);
    assertThat(report)
        .containsPattern(
            "every target readable after client ready: -?[0-9.]+ s; "
                + "ratio \\(all targets\\)/\\(client restart\\) = [0-9.]+");
    assertThat(report)
        .containsPattern(
            "target 5 targets readable within 2 s of the client being" + " ready +(met|NOT met) ");
    // The client it names was really killed.
    long killedPid = Long.parseLong(killed.group(1));
    assertThat(
            ProcessHandle.of(killedPid).map(ProcessHandle::isAlive).orElse(false)
                && Host.running(killedPid))
        .as("killed client %d still runs", killedPid)
        .isFalse();

    assertThat(mountsUnder(fixture.kubelet)).isEmpty();
    assertThat(podDirectories()).isEmpty();
    assertThat(dir.resolve("bench-data")).doesNotExist();
    fixture.awaitNoClients();
  }

  @Test
  void scalePublishesEveryTargetRestartsTheDriverAndCleansUp() throws Exception {
    // The restart re-runs the fixture driver's own command line (java -cp ... Main serve ...),
    // with its working directory and environment, then stops it with the unpublish storm done:
    // the restarted process is not the fixture's, stop() stops it.
    int code =
        bench(
            "bench",
            "scale",
            "--volumes",
            "3",
            "--targets",
            "6",
            "--concurrency",
            "3",
            "--restart-log",
            dir.resolve("restarted-driver.log").toString());
    String report = out.toString();

    assertThat(code).as(report + err + "\nrestarted driver's log:\n" + restartLog()).isZero();
    assertThat(report)
        .contains(
            "== jfs-csi bench scale: 3 volumes, 6 targets, 3 callers",
            "run prefix ",
            ": 6 targets, up to 2 per volume",
            "== results");
    noErrorLines(report);
    assertThat(row(report, "publish storm (incl. 3 client starts)").ops).isEqualTo(6);
    assertThat(row(report, "NodeGetVolumeStats sweep").ops).isEqualTo(6);
    assertThat(row(report, "stats after restart (retried)").ops).isEqualTo(6);
    assertThat(report)
        .containsPattern("publish storm: 6 targets in [0-9.]+ s \\([0-9.]+ " + "publishes/s\\)");
    for (String when :
        List.of(
            "driver before storm:",
            "driver after storm:",
            "driver after stats sweep:",
            "driver after restart \\+ rebuild:")) {
      assertThat(report)
          .containsPattern(
              when
                  + " +VmRSS [0-9.]+ MiB \\(RssAnon [0-9.]+ MiB, "
                  + "RssFile [0-9.]+ MiB\\), VmHWM [0-9.]+ MiB, threads \\d+");
    }
    assertThat(report)
        .containsPattern(
            "target under 300 MiB resident with 3 volumes / 6 targets" + " +(met|NOT met) ");

    // The restart: the fixture's driver is gone, another runs, and it rebuilt every target.
    assertThat(report).contains("restarting the driver (pid " + driver.pid() + "): ");
    assertThat(driver.waitFor(10, TimeUnit.SECONDS)).isTrue();
    Matcher restarted = find(report, "restarted driver: pid (\\d+), log (\\S+) ");
    long again = Long.parseLong(restarted.group(1));
    assertThat(again).isNotEqualTo(driver.pid());
    assertThat(driversOfThisTest()).containsExactly(again);
    assertThat(report)
        .containsPattern(
            "restart: SIGTERM -> old process gone [0-9.]+ s; "
                + "start -> Probe ready [0-9.]+ s; start -> NodeGetVolumeStats of all 6 targets healthy "
                + "[0-9.]+ s");

    // The bench waited for every client to stop before returning: nothing is left mounted.
    assertThat(report)
        .containsPattern(
            "unpublish storm \\(clients stop with their last target\\):"
                + " 6 targets in [0-9.]+ s");
    assertThat(report)
        .containsPattern(
            "every client stopped and unmounted [0-9.]+ s after the " + "unpublish storm\n");
    assertThat(fixture.mountsUnder()).isEmpty();
    assertThat(podDirectories()).isEmpty();
    fixture.awaitNoClients(); // a client's process may still be exiting after its unmount
    assertThat(dir.resolve("bench-data")).doesNotExist();
  }

  @Test
  void scaleWithoutRestartAndFewerTargetsThanVolumesReportsTheClientsItStarted() throws Exception {
    // Targets are spread one per volume first: 2 targets on 3 volumes start 2 clients, not 3.
    int code =
        bench(
            "bench",
            "scale",
            "--volumes",
            "3",
            "--targets",
            "2",
            "--concurrency",
            "2",
            "--no-restart");
    String report = out.toString();

    assertThat(code).as(report + err).isZero();
    assertThat(report)
        .contains(
            "== jfs-csi bench scale: 2 volumes, 2 targets, 2 callers",
            "--targets 2 < --volumes 3: 2 volumes used, one target each",
            "run prefix ",
            ": 2 targets, up to 1 per volume");
    noErrorLines(report);
    assertThat(row(report, "publish storm (incl. 2 client starts)").ops).isEqualTo(2);
    assertThat(report).containsPattern("target under 300 MiB resident with 2 volumes / 2 targets");
    assertThat(report).doesNotContain("restarting the driver", "stats after restart");
    assertThat(driver.isAlive()).as("--no-restart leaves the driver alone").isTrue();
    assertThat(fixture.mountsUnder()).isEmpty();
    assertThat(podDirectories()).isEmpty();
    fixture.awaitNoClients();
  }

  // ---- running the bench and reading its report ------------------------------------------

  /**
   * Runs {@code jfs-csi ARGS --driver-pid PID --endpoint ... --kubelet-root ... --data-dir ...} in
   * this JVM, the report captured in {@link #out}.
   */
  private int bench(String... args) {
    List<String> argv = new ArrayList<>(List.of(args));
    argv.addAll(List.of("--driver-pid", Long.toString(driver.pid())));
    return benchFindingTheDriver(argv.toArray(String[]::new));
  }

  /** The same without --driver-pid: the bench looks for the serve process itself. */
  private int benchFindingTheDriver(String... args) {
    // The bench's own command line: what follows `jfs-csi bench`.
    List<String> argv = new ArrayList<>(List.of(args).subList(1, args.length));
    argv.addAll(
        List.of(
            "--endpoint",
            "unix://" + fixture.socket,
            "--kubelet-root",
            fixture.kubelet.toString(),
            "--data-dir",
            dir.resolve("bench-data").toString()));
    long started = System.nanoTime();
    int code =
        BenchMain.commandLine()
            .setOut(new PrintWriter(out, true))
            .setErr(new PrintWriter(err, true))
            .execute(argv.toArray(String[]::new));
    // Kept in the test's output file (surefire), for a failure in CI.
    System.out.printf(
        "%s -> exit %d in %.1f s%n%s%s%n",
        String.join(" ", argv), code, (System.nanoTime() - started) / 1e9, out, err);
    return code;
  }

  /** One row of a result table: ops, errors, then p50, p99, max and mean in ms, and ops/s. */
  record Row(int ops, int errors, double p50, double p99, double max, double mean, double rate) {}

  /**
   * The row named {@code name}; fails unless it has no errors and its figures are consistent: 0 <
   * p50 <= p99 <= max, 0 < mean <= max, a positive rate.
   */
  private static Row row(String report, String name) {
    Matcher m =
        find(
            report,
            "(?m)^  "
                + Pattern.quote(name)
                + " +(\\d+) +(\\d+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +([0-9.]+) +(\\S+)$");
    Row row =
        new Row(
            Integer.parseInt(m.group(1)),
            Integer.parseInt(m.group(2)),
            Double.parseDouble(m.group(3)),
            Double.parseDouble(m.group(4)),
            Double.parseDouble(m.group(5)),
            Double.parseDouble(m.group(6)),
            Double.parseDouble(m.group(7)));
    assertThat(row.errors).as(name + " errors").isZero();
    assertThat(row.p50).as(name + " p50").isPositive();
    assertThat(row.p99).as(name + " p99").isGreaterThanOrEqualTo(row.p50);
    assertThat(row.max).as(name + " max").isGreaterThanOrEqualTo(row.p99);
    assertThat(row.mean).as(name + " mean").isPositive().isLessThanOrEqualTo(row.max);
    assertThat(row.rate).as(name + " ops/s").isPositive();
    return row;
  }

  private static Matcher find(String report, String regex) {
    Matcher m = Pattern.compile(regex).matcher(report);
    assertThat(m.find()).as("/%s/ in:%n%s", regex, report).isTrue();
    return m;
  }

  private static String line(String report, String start) {
    return report
        .lines()
        .filter(l -> l.startsWith(start))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no line " + start + " in:\n" + report));
  }

  private static double seconds(String report, String regex) {
    return Double.parseDouble(find(report, regex).group(1));
  }

  /** No failed operation, target in the wrong state, or directory left behind is reported. */
  private static void noErrorLines(String report) {
    assertThat(
            report
                .lines()
                .filter(
                    l ->
                        l.startsWith("  ! ")
                            || l.startsWith("ERRORS")
                            || l.startsWith("left in place")))
        .as(report)
        .isEmpty();
  }

  private static List<String> mountsUnder(Path root) throws IOException {
    List<String> result = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String mountPoint = line.split(" ")[4].replace("\\040", " ");
      if (mountPoint.startsWith(root.toString())) {
        result.add(mountPoint);
      }
    }
    return result;
  }

  private List<Path> podDirectories() throws IOException {
    Path pods = fixture.kubelet.resolve("pods");
    if (!Files.exists(pods)) {
      return List.of();
    }
    try (Stream<Path> s = Files.list(pods)) {
      return s.toList();
    }
  }

  /** Driver processes (serve) on this test's socket: the fixture's or one bench scale started. */
  private List<Long> driversOfThisTest() {
    String socket = fixture.socket.toString();
    return ProcessHandle.allProcesses()
        .filter(p -> p.pid() != ProcessHandle.current().pid())
        .filter(
            p -> {
              List<String> args = Host.cmdline(p.pid());
              return args.contains("serve") && args.stream().anyMatch(a -> a.contains(socket));
            })
        .map(ProcessHandle::pid)
        .toList();
  }

  /** Bare plugins started by this JVM (the bench runs in it), still running. */
  private static List<ProcessHandle> barePlugins() {
    return ProcessHandle.current()
        .descendants()
        .filter(p -> p.isAlive() && Host.cmdline(p.pid()).contains("bare-plugin"))
        .toList();
  }

  private String restartLog() {
    try {
      return Files.readString(dir.resolve("restarted-driver.log"));
    } catch (IOException e) {
      return "(none)";
    }
  }
}

package io.jfscsi.bench;

import csi.v1.NodeGetVolumeStatsResponse;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.csi.CsiClient;
import io.jfscsi.host.MountInfo;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jfs-csi bench scale}: many volumes and targets on one node. A publish storm of every
 * target (each volume's first publish starts its client), the driver's resident memory, a
 * NodeGetVolumeStats sweep, then a driver restart: SIGTERM to the serve process, the same command
 * line started again (cwd and environment of the old process, output to a log file), and the time
 * until Probe is ready and until NodeGetVolumeStats of every target answers healthy.
 */
@Command(
    name = "scale",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description =
        "Publish storm over many volumes, driver memory, and state rebuild after a "
            + "driver restart (SIGTERM, start again with the same command line).")
final class ScaleBench implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin BenchOptions options;

  @Option(names = "--volumes", defaultValue = "500", description = "volumes (one client each)")
  int volumes;

  @Option(
      names = "--targets",
      defaultValue = "1000",
      description = "targets in all, spread evenly over the volumes")
  int targets;

  @Option(names = "--concurrency", defaultValue = "64", description = "concurrent callers")
  int concurrency;

  @Option(names = "--no-restart", description = "skip the driver restart and its rebuild time")
  boolean noRestart;

  @Option(
      names = "--hold",
      defaultValue = "PT0S",
      description =
          "wait this long with every target published, before the restart, so the "
              + "driver can be inspected (jcmd, jstack); ISO-8601, default ${DEFAULT-VALUE}")
  Duration hold;

  @Option(
      names = "--restart-log",
      description =
          "where the restarted driver writes " + "(default: /tmp/jfs-csi-bench-driver.PREFIX.log)")
  Path restartLog;

  @Override
  public Integer call() throws Exception {
    options.check();
    Report r = new Report(spec.commandLine().getOut());
    // Targets go one per volume first: with fewer targets than volumes the others would get no
    // target and start no client, yet be counted in the client starts and the memory target.
    int asked = volumes;
    if (targets > 0 && targets < volumes) {
      volumes = targets;
    }
    r.title(
        "jfs-csi bench scale: "
            + volumes
            + " volumes, "
            + targets
            + " targets, "
            + concurrency
            + " callers");
    if (volumes < asked) {
      r.line(
          "--targets %d < --volumes %d: %d volumes used, one target each", targets, asked, volumes);
    }
    r.line("machine: %s", Host.machine());
    OptionalLong pid = options.driverPid();
    if (pid.isEmpty()) {
      r.line("driver pid not found: no memory figures and no restart (pass --driver-pid)");
    }
    ExecutorService pool =
        Executors.newFixedThreadPool(
            concurrency, Thread.ofPlatform().name("bench-scale-", 0).daemon().factory());
    Workspace ws = options.workspace(volumes);
    int perVolume = (targets + volumes - 1) / volumes;
    List<Workspace.Target> all = ws.targets(0, perVolume).subList(0, targets);
    r.line("run prefix %s: %d targets, up to %d per volume", ws.prefix, all.size(), perVolume);
    r.line("kubelet root's file system: %s", Host.fileSystemOf(ws.kubeletRoot));
    Map<String, String> idle = status(pid);
    CsiClient client = CsiClient.connect(options.endpoint);
    int errors = 0;
    try {
      NodeCalls node = new NodeCalls(client, options.callTimeout);
      // Also opens the channel, so the storm does not pay the bench's own start-up.
      if (!node.ready()) {
        throw new IllegalStateException("the driver at " + options.endpoint + " is not ready");
      }
      var storm =
          Phase.run(
              "publish storm",
              pool,
              concurrency,
              BenchCommand.publishOps(node, all),
              pid.orElse(-1));
      r.errors("publish storm", storm.firstErrors());
      errors += storm.errors();
      Map<String, String> afterStorm = status(pid);
      var sweep = Phase.run("stats", pool, concurrency, statsOps(node, all, false), pid.orElse(-1));
      r.errors("stats", sweep.firstErrors());
      Map<String, String> afterSweep = status(pid);

      r.title("results");
      r.line("machine after storm: %s", Host.machine());
      r.header();
      r.row("publish storm (incl. " + volumes + " client starts)", List.of(storm));
      r.row("NodeGetVolumeStats sweep", List.of(sweep));
      r.line(
          "publish storm: %d targets in %s (%.1f publishes/s)",
          all.size(), Report.seconds(storm.wallNanos()), storm.opsPerSecond());
      printMemory(r, "driver before storm", idle);
      printMemory(r, "driver after storm", afterStorm);
      printMemory(r, "driver after stats sweep", afterSweep);
      double rss = Host.mib(afterSweep, "VmRSS");
      r.target(
          "under 300 MiB resident with " + volumes + " volumes / " + all.size() + " targets",
          rss < 300,
          Report.mib(rss));

      if (!hold.isZero()) {
        r.line(
            "holding %s with %d targets published (driver pid %s)",
            hold, all.size(), pid.isPresent() ? Long.toString(pid.getAsLong()) : "?");
        Thread.sleep(hold);
        printMemory(r, "driver after the hold", status(pid));
      }
      if (!noRestart && pid.isPresent()) {
        client.close();
        client = null;
        Restarted again = restart(r, pid.getAsLong(), ws.prefix);
        client = CsiClient.connect(options.endpoint);
        node = new NodeCalls(client, options.callTimeout);
        long started = again.started();
        var rebuilt =
            Phase.run("stats until healthy", pool, concurrency, statsOps(node, all, true));
        long allAnswered = System.nanoTime() - started;
        r.errors("stats after restart", rebuilt.firstErrors());
        errors += rebuilt.errors();
        r.row("stats after restart (retried)", List.of(rebuilt));
        r.line(
            "restart: SIGTERM -> old process gone %s; start -> Probe ready %s; "
                + "start -> NodeGetVolumeStats of all %d targets healthy %s",
            Report.seconds(again.stopNanos()),
            Report.seconds(again.readyNanos()),
            all.size(),
            Report.seconds(allAnswered));
        r.line(
            "restarted driver: pid %d, log %s (it keeps running; stop it with kill -TERM %d)",
            again.pid(), again.log(), again.pid());
        printMemory(r, "driver after restart + rebuild", Host.status(again.pid()));
      }
    } finally {
      if (client == null) {
        client = CsiClient.connect(options.endpoint);
      }
      var down =
          Phase.run(
              "unpublish storm",
              pool,
              concurrency,
              BenchCommand.unpublishOps(new NodeCalls(client, options.callTimeout), all));
      r.errors("unpublish storm", down.firstErrors());
      errors += down.errors();
      r.line(
          "unpublish storm (clients stop with their last target): %d targets in %s, " + "p50 %s ms",
          all.size(), Report.seconds(down.wallNanos()), Latencies.ms(down.summary().p50()));
      client.close();
      // Clients stop after their last unpublish is answered: wait for their mounts to go, so
      // that the node is clean when the bench returns (and a driver restart cannot cut a stop).
      long stopping = System.nanoTime();
      long lastMounts;
      do {
        lastMounts =
            MountInfo.self().stream()
                .filter(e -> e.mountPoint().toString().contains(ws.prefix))
                .count();
        if (lastMounts > 0) {
          Thread.sleep(20);
        }
      } while (lastMounts > 0 && System.nanoTime() - stopping < TimeUnit.SECONDS.toNanos(120));
      r.line(
          "every client stopped and unmounted %s after the unpublish storm%s",
          Report.seconds(System.nanoTime() - stopping),
          lastMounts > 0 ? " (NOT: " + lastMounts + " mounts left)" : "");
      if (ws.cleanUpAndReport(r)) {
        errors++;
      }
      pool.shutdownNow();
    }
    return errors == 0 ? 0 : 3;
  }

  private static Map<String, String> status(OptionalLong pid) {
    return pid.isPresent() ? Host.status(pid.getAsLong()) : Map.of();
  }

  private static void printMemory(Report r, String when, Map<String, String> s) {
    if (s.isEmpty()) {
      return;
    }
    r.line(
        "%-34s VmRSS %s (RssAnon %s, RssFile %s), VmHWM %s, threads %s",
        when + ":",
        Report.mib(Host.mib(s, "VmRSS")),
        Report.mib(Host.mib(s, "RssAnon")),
        Report.mib(Host.mib(s, "RssFile")),
        Report.mib(Host.mib(s, "VmHWM")),
        s.getOrDefault("Threads", "?"));
  }

  /** Stats of every target; with {@code untilHealthy} each one is retried until it is. */
  private static List<Phase.Op> statsOps(
      NodeCalls node, List<Workspace.Target> all, boolean untilHealthy) {
    long giveUp = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    return all.stream()
        .<Phase.Op>map(
            t ->
                () -> {
                  while (true) {
                    try {
                      NodeGetVolumeStatsResponse s = node.stats(t.volume(), t.path());
                      if (!s.getVolumeCondition().getAbnormal()) {
                        return;
                      }
                      if (!untilHealthy) {
                        throw new IllegalStateException(
                            t.path() + ": " + s.getVolumeCondition().getMessage());
                      }
                    } catch (StatusRuntimeException e) {
                      if (!untilHealthy
                          || e.getStatus().getCode() == Status.Code.DEADLINE_EXCEEDED) {
                        throw e;
                      }
                    }
                    if (System.nanoTime() > giveUp) {
                      throw new IllegalStateException(t.path() + ": not healthy after 120 s");
                    }
                    Thread.sleep(5);
                  }
                })
        .toList();
  }

  record Restarted(long pid, long started, long stopNanos, long readyNanos, Path log) {}

  /**
   * SIGTERM, wait until the old process is gone, start its command line again (same cwd and
   * environment, in a session of its own so the bench's terminal signals do not reach it), and wait
   * until Probe answers ready on a fresh connection.
   */
  private Restarted restart(Report r, long pid, String prefix) throws IOException {
    List<String> argv = Host.cmdline(pid);
    Path cwd = Path.of("/proc", Long.toString(pid), "cwd").toRealPath();
    Map<String, String> env = environ(pid);
    Path log =
        restartLog != null
            ? restartLog
            : Path.of("/tmp", "jfs-csi-bench-driver." + prefix + ".log");
    r.line("restarting the driver (pid %d): %s", pid, String.join(" ", argv));
    long term = System.nanoTime();
    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy);
    long deadline = term + TimeUnit.SECONDS.toNanos(60);
    while (Host.running(pid)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("driver " + pid + " still runs 60 s after SIGTERM");
      }
      LockSupport.parkNanos(1_000_000);
    }
    long stop = System.nanoTime() - term;
    List<String> command = new ArrayList<>();
    if (Files.isExecutable(Path.of("/usr/bin/setsid"))) {
      command.add("/usr/bin/setsid");
    }
    command.addAll(argv);
    ProcessBuilder pb =
        new ProcessBuilder(command)
            .directory(cwd.toFile())
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
            .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    pb.environment().clear();
    pb.environment().putAll(env);
    long started = System.nanoTime();
    Process process = pb.start();
    long readyDeadline = started + TimeUnit.SECONDS.toNanos(120);
    AtomicInteger attempts = new AtomicInteger();
    while (!NodeCalls.readyOnFreshConnection(options.endpoint, Duration.ofSeconds(5))) {
      attempts.incrementAndGet();
      if (!process.isAlive()) {
        throw new IllegalStateException("the restarted driver exited; see " + log);
      }
      if (System.nanoTime() > readyDeadline) {
        throw new IllegalStateException("the restarted driver is not ready after 120 s");
      }
      LockSupport.parkNanos(10_000_000);
    }
    long ready = System.nanoTime() - started;
    return new Restarted(process.pid(), started, stop, ready, log);
  }

  private static Map<String, String> environ(long pid) throws IOException {
    byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "environ"));
    Map<String, String> env = new LinkedHashMap<>();
    for (String kv : new String(raw, StandardCharsets.UTF_8).split("\0")) {
      int eq = kv.indexOf('=');
      if (eq > 0) {
        env.put(kv.substring(0, eq), kv.substring(eq + 1));
      }
    }
    return env;
  }
}

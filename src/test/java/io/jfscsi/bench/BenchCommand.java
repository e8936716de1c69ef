package io.jfscsi.bench;

import io.jfscsi.csi.CsiClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.stream.Collectors;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code jfs-csi bench}: publish/unpublish pairs against a CSI endpoint on a ready client, side by
 * side with raw bind mounts of the same directories measured in the same run.
 *
 * <p>Each volume first gets an anchor target (its first publish starts the client: reported as cold
 * start, and held for the whole run so the client stays up). Then every round publishes {@code
 * volumes x targets-per-volume} targets with {@code concurrency} callers, unpublishes them all, and
 * does the same with raw mounts: mkdir + bind of the directory the driver bound, then unmount +
 * rmdir, through {@link LinuxMounter} (the driver's own mounter), at the same targets with the same
 * number of callers.
 *
 * <p>Between the two, unless {@code --no-bare-plugin}, the same targets are published and
 * unpublished through a {@link BarePlugin}: a minimal plugin in a JVM of its own on the driver's
 * transport (socket, gRPC server, bridge), which only does mkdir + bind and unmount + rmdir. It is
 * the floor of any plugin served this way, so what the driver takes beyond it is the driver's own
 * cost, without the transport's.
 */
@Command(
    name = "bench",
    mixinStandardHelpOptions = true,
    sortOptions = false,
    description = {
      "Measure NodePublishVolume/NodeUnpublishVolume against a CSI endpoint, with "
          + "a raw bind-mount baseline and a bare plugin on the same transport in the same run. "
          + "Needs root (mounts). Subcommands measure recovery and scale."
    },
    subcommands = {RecoveryBench.class, ScaleBench.class, BarePlugin.class})
public final class BenchCommand implements Callable<Integer> {

  @Spec CommandSpec spec;

  @Mixin BenchOptions options;

  @Option(names = "--volumes", defaultValue = "4", description = "volumes M (one client each)")
  int volumes;

  @Option(
      names = "--targets-per-volume",
      defaultValue = "8",
      description = "targets K published per volume in each round")
  int targetsPerVolume;

  @Option(names = "--concurrency", defaultValue = "16", description = "concurrent callers N")
  int concurrency;

  @Option(names = "--rounds", defaultValue = "3", description = "measured rounds R")
  int rounds;

  @Option(
      names = "--warmup-rounds",
      defaultValue = "1",
      description = "rounds run first and not counted (JIT warm-up of driver and bench)")
  int warmupRounds;

  @Option(
      names = "--warmup-pairs",
      defaultValue = "2000",
      description =
          "at least this many publish + unpublish pairs run in warm-up rounds first "
              + "(more rounds than --warmup-rounds when needed): the bench's own JVM compiles its "
              + "gRPC client and mount calls only after thousands of calls, and kubelet (Go) has no "
              + "such warm-up to pay for")
  int warmupPairs;

  @Option(
      names = "--no-decompose",
      description =
          "skip timing a gRPC no-op (NodeGetCapabilities, answered without an actor), "
              + "Probe (gRPC + one ask of the node actor) and NodeGetVolumeStats "
              + "(+ the client's actor, a probe of the target, statfs) on the published targets; "
              + "by default they run with the same count and callers to show where publish time goes")
  boolean noDecompose;

  @Option(
      names = "--no-bare-plugin",
      description =
          "skip the bare-plugin baseline: by default a minimal CSI plugin (mkdir + "
              + "bind, unmount + rmdir, nothing else) runs in a JVM of its own on the driver's "
              + "transport and publishes/unpublishes the same targets each round, so the driver's "
              + "cost beyond the transport can be told apart from the transport's")
  boolean noBarePlugin;

  /** The serve process, for its CPU time per phase; -1 when not known. */
  private long driver = -1;

  @Override
  public Integer call() throws Exception {
    options.check();
    int perRound = volumes * targetsPerVolume;
    warmupRounds = Math.max(warmupRounds, (warmupPairs + perRound - 1) / Math.max(1, perRound));
    Report r = new Report(spec.commandLine().getOut());
    r.title(
        "jfs-csi bench: "
            + volumes
            + " volumes x "
            + targetsPerVolume
            + " targets, "
            + concurrency
            + " callers, "
            + rounds
            + " rounds (+"
            + warmupRounds
            + " warm-up)");
    r.line("machine: %s", Host.machine());
    ExecutorService pool =
        Executors.newFixedThreadPool(
            concurrency, Thread.ofPlatform().name("bench-caller-", 0).daemon().factory());
    try (CsiClient client = CsiClient.connect(options.endpoint)) {
      NodeCalls node = new NodeCalls(client, options.callTimeout);
      if (!node.ready()) {
        r.line("the driver at %s is not ready", options.endpoint);
        return 1;
      }
      OptionalLong pid = options.driverPid();
      driver = pid.orElse(-1);
      Map<String, String> before = pid.isPresent() ? Host.status(pid.getAsLong()) : Map.of();
      Workspace ws = options.workspace(volumes);
      r.line(
          "run prefix %s, kubelet root %s%s",
          ws.prefix, ws.kubeletRoot, ws.ownData ? ", data " + ws.dataDir : "");
      r.line("kubelet root's file system: %s", Host.fileSystemOf(ws.kubeletRoot));
      List<Workspace.Target> anchors = ws.targets(0, 1);
      List<Workspace.Target> targets = ws.targets(1, targetsPerVolume);
      LinuxMounter mounter = new LinuxMounter();
      Result result = new Result();
      try {
        run(r, pool, node, mounter, ws, anchors, targets, result);
      } finally {
        cleanUp(r, pool, node, mounter, anchors, targets);
        if (ws.cleanUpAndReport(r)) {
          result.verifyErrors++;
        }
      }
      Map<String, String> after = pid.isPresent() ? Host.status(pid.getAsLong()) : Map.of();
      print(r, result, pid, before, after);
      return result.errors() == 0 ? 0 : 3;
    } finally {
      pool.shutdownNow();
    }
  }

  /** Everything measured; publish/unpublish/bind/unmount lists hold the counted rounds only. */
  private static final class Result {
    Phase.Result cold;
    final List<Phase.Result> publish = new ArrayList<>();
    final List<Phase.Result> unpublish = new ArrayList<>();
    final List<Phase.Result> bind = new ArrayList<>();
    final List<Phase.Result> unmount = new ArrayList<>();
    final List<Phase.Result> barePublish = new ArrayList<>();
    final List<Phase.Result> bareUnpublish = new ArrayList<>();
    final List<Phase.Result> noop = new ArrayList<>();
    final List<Phase.Result> probe = new ArrayList<>();
    final List<Phase.Result> stats = new ArrayList<>();
    final Set<String> sourceKinds = new HashSet<>();
    int verifyErrors;

    int errors() {
      return (cold == null ? 0 : cold.errors())
          + Phase.errors(publish)
          + Phase.errors(unpublish)
          + Phase.errors(bind)
          + Phase.errors(unmount)
          + Phase.errors(noop)
          + Phase.errors(probe)
          + Phase.errors(stats)
          + Phase.errors(barePublish)
          + Phase.errors(bareUnpublish)
          + verifyErrors;
    }
  }

  private void run(
      Report r,
      ExecutorService pool,
      NodeCalls node,
      LinuxMounter mounter,
      Workspace ws,
      List<Workspace.Target> anchors,
      List<Workspace.Target> targets,
      Result result)
      throws Exception {
    r.line("cold start: first publish of each of %d volumes (starts its client)", anchors.size());
    result.cold = Phase.run("cold publish", pool, concurrency, publishOps(node, anchors), driver);
    r.errors("cold publish", result.cold.firstErrors());
    if (result.cold.errors() > 0) {
      throw new IllegalStateException(result.cold.errors() + " volumes did not publish");
    }
    // The raw baseline binds exactly what the driver bound: the client's directory.
    Map<Integer, Path> sources = new HashMap<>();
    for (Workspace.Target a : anchors) {
      var mount = Host.clientMountOf(a.path(), ws.kubeletRoot);
      if (mount.isPresent()) {
        sources.put(a.volumeIndex(), mount.get().source());
        result.sourceKinds.add(
            mount.get().fsType() + " mount of the client, e.g. " + mount.get().source());
      } else {
        Path plain = ws.dataDir.resolve(a.volume().context().get("subPath"));
        sources.put(a.volumeIndex(), plain);
        result.sourceKinds.add("plain directory (client mount not found), e.g. " + plain);
      }
    }
    r.line("raw baseline binds: %s", String.join("; ", result.sourceKinds));
    if (noBarePlugin) {
      rounds(r, pool, node, null, mounter, sources, targets, result);
      return;
    }
    // The bare plugin binds what the raw baseline binds, found by the volume id of the request.
    Map<String, Path> bareSources = new LinkedHashMap<>();
    for (Workspace.Target a : anchors) {
      bareSources.put(a.volume().id(), sources.get(a.volumeIndex()));
    }
    try (BarePlugin.Child plugin = BarePlugin.Child.start(bareSources, Duration.ofSeconds(60));
        CsiClient client = CsiClient.connect(plugin.endpoint())) {
      r.line(
          "bare plugin: pid %d on %s (java %s; its CPU is the drv CPU of the bare rows)",
          plugin.pid(), plugin.endpoint(), String.join(" ", BarePlugin.JVM_OPTIONS));
      Bare bare = new Bare(new NodeCalls(client, options.callTimeout), plugin.pid());
      rounds(r, pool, node, bare, mounter, sources, targets, result);
    }
  }

  /** The bare plugin's channel and process. */
  private record Bare(NodeCalls node, long pid) {}

  /** Every round: driver, bare plugin (when {@code bare} is not null), raw mounts. */
  private void rounds(
      Report r,
      ExecutorService pool,
      NodeCalls node,
      Bare bare,
      LinuxMounter mounter,
      Map<Integer, Path> sources,
      List<Workspace.Target> targets,
      Result result)
      throws Exception {
    r.line(
        "%s   (p50 ms; wall s)",
        bare == null
            ? columns("round", "publish", "unpublish", "raw bind", "raw unmount")
            : columns(
                "round",
                "publish",
                "unpublish",
                "bare publish",
                "bare unpub",
                "raw bind",
                "raw unmount"));
    for (int round = 0; round < warmupRounds + rounds; round++) {
      var pub = Phase.run("publish", pool, concurrency, publishOps(node, targets), driver);
      result.verifyErrors += verify(r, targets, true, "after publish");
      if (!noDecompose) {
        List<Phase.Op> probes =
            targets.stream()
                .<Phase.Op>map(
                    t ->
                        () -> {
                          if (!node.ready()) {
                            throw new IllegalStateException("Probe: not ready");
                          }
                        })
                .toList();
        List<Phase.Op> stats =
            targets.stream()
                .<Phase.Op>map(
                    t ->
                        () -> {
                          if (node.stats(t.volume(), t.path()).getVolumeCondition().getAbnormal()) {
                            throw new IllegalStateException(t.path() + " is abnormal");
                          }
                        })
                .toList();
        List<Phase.Op> noops = targets.stream().<Phase.Op>map(t -> node::capabilities).toList();
        var noop = Phase.run("no-op", pool, concurrency, noops, driver);
        r.errors("no-op", noop.firstErrors());
        var probe = Phase.run("probe", pool, concurrency, probes, driver);
        var stat = Phase.run("stats", pool, concurrency, stats, driver);
        r.errors("probe", probe.firstErrors());
        r.errors("stats", stat.firstErrors());
        if (round >= warmupRounds) {
          result.noop.add(noop);
          result.probe.add(probe);
          result.stats.add(stat);
        }
      }
      var unp = Phase.run("unpublish", pool, concurrency, unpublishOps(node, targets), driver);
      result.verifyErrors += verify(r, targets, false, "after unpublish");
      // Warm-up rounds too: the bare plugin's JVM is warmed like the driver's.
      List<Phase.Result> phases = new ArrayList<>(List.of(pub, unp));
      if (bare != null) {
        var barePub =
            Phase.run(
                "bare publish", pool, concurrency, publishOps(bare.node(), targets), bare.pid());
        result.verifyErrors += verify(r, targets, true, "after bare publish");
        var bareUnp =
            Phase.run(
                "bare unpublish",
                pool,
                concurrency,
                unpublishOps(bare.node(), targets),
                bare.pid());
        result.verifyErrors += verify(r, targets, false, "after bare unpublish");
        phases.addAll(List.of(barePub, bareUnp));
        if (round >= warmupRounds) {
          result.barePublish.add(barePub);
          result.bareUnpublish.add(bareUnp);
        }
      }
      List<Phase.Op> bindOps = new ArrayList<>();
      List<Phase.Op> unmountOps = new ArrayList<>();
      for (Workspace.Target t : targets) {
        Path source = sources.get(t.volumeIndex());
        bindOps.add(
            () -> {
              Files.createDirectory(t.path());
              mounter.bind(source, t.path(), false);
            });
        unmountOps.add(
            () -> {
              mounter.unmount(t.path());
              Files.delete(t.path());
            });
      }
      var bind = Phase.run("raw bind", pool, concurrency, bindOps, driver);
      result.verifyErrors += verify(r, targets, true, "after raw bind");
      var unmount = Phase.run("raw unmount", pool, concurrency, unmountOps, driver);
      result.verifyErrors += verify(r, targets, false, "after raw unmount");
      phases.addAll(List.of(bind, unmount));
      boolean counted = round >= warmupRounds;
      boolean errors = phases.stream().anyMatch(p -> p.errors() > 0);
      if (counted || errors || round == warmupRounds - 1) { // of the warm-up, its last round
        List<String> cells = new ArrayList<>();
        cells.add(counted ? Integer.toString(round - warmupRounds + 1) : "warm-up");
        phases.forEach(p -> cells.add(cell(p)));
        r.line("%s%s", columns(cells.toArray(String[]::new)), errors ? "  errors!" : "");
      }
      for (var p : phases) {
        r.errors(p.name(), p.firstErrors());
      }
      if (counted) {
        result.publish.add(pub);
        result.unpublish.add(unp);
        result.bind.add(bind);
        result.unmount.add(unmount);
      }
    }
  }

  /** A line of the round table: the round, then one 14-wide column per phase. */
  private static String columns(String... cells) {
    StringBuilder line = new StringBuilder(String.format(Locale.ROOT, "%-7s", cells[0]));
    for (int i = 1; i < cells.length; i++) {
      line.append(String.format(Locale.ROOT, " %14s", cells[i]));
    }
    return line.toString();
  }

  private static String cell(Phase.Result p) {
    return Latencies.ms(p.summary().p50())
        + "; "
        + String.format(Locale.ROOT, "%.2f", p.wallNanos() / 1e9);
  }

  /** Counts targets in the wrong state (mounted or not), from one read of the mount table. */
  private static int verify(
      Report r, List<Workspace.Target> targets, boolean mounted, String when) {
    Set<Path> points =
        MountInfo.self().stream().map(MountEntry::mountPoint).collect(Collectors.toSet());
    int wrong = 0;
    for (Workspace.Target t : targets) {
      if (points.contains(t.path()) != mounted) {
        wrong++;
      }
    }
    if (wrong > 0) {
      r.line("  ! %s: %d targets are %s", when, wrong, mounted ? "not mounted" : "still mounted");
    }
    return wrong;
  }

  static List<Phase.Op> publishOps(NodeCalls node, List<Workspace.Target> targets) {
    return targets.stream().<Phase.Op>map(t -> () -> node.publish(t.volume(), t.path())).toList();
  }

  static List<Phase.Op> unpublishOps(NodeCalls node, List<Workspace.Target> targets) {
    return targets.stream().<Phase.Op>map(t -> () -> node.unpublish(t.volume(), t.path())).toList();
  }

  /**
   * Leaves nothing behind: every target and anchor unpublished, then whatever is still mounted at a
   * target (a raw or bare-plugin bind of an interrupted round) unmounted.
   */
  private void cleanUp(
      Report r,
      ExecutorService pool,
      NodeCalls node,
      LinuxMounter mounter,
      List<Workspace.Target> anchors,
      List<Workspace.Target> targets)
      throws InterruptedException {
    Set<Path> points =
        MountInfo.self().stream().map(MountEntry::mountPoint).collect(Collectors.toSet());
    List<Workspace.Target> all = new ArrayList<>(targets);
    all.addAll(anchors);
    var done = Phase.run("clean-up unpublish", pool, concurrency, unpublishOps(node, all));
    r.errors("clean-up unpublish", done.firstErrors());
    for (Workspace.Target t : targets) {
      if (points.contains(t.path()) && Host.mountAt(t.path()).isPresent()) {
        try {
          mounter.unmount(t.path());
          Files.deleteIfExists(t.path());
        } catch (Exception e) {
          r.line("  ! cannot clean up %s: %s", t.path(), e.getMessage());
        }
      }
    }
  }

  private void print(
      Report r,
      Result res,
      OptionalLong pid,
      Map<String, String> before,
      Map<String, String> after) {
    int pairs = volumes * targetsPerVolume * rounds;
    r.title("results (" + rounds + " counted rounds, " + pairs + " pairs each way)");
    r.line("machine after: %s", Host.machine());
    if (pid.isPresent()) {
      r.line(
          "driver pid %d: VmRSS %s before, %s after; threads %s after",
          pid.getAsLong(),
          Report.mib(Host.mib(before, "VmRSS")),
          Report.mib(Host.mib(after, "VmRSS")),
          after.getOrDefault("Threads", "?"));
    } else {
      r.line("driver pid not found (pass --driver-pid for its memory)");
    }
    r.header();
    r.row("cold start (first publish)", List.of(res.cold));
    r.row("driver publish", res.publish);
    r.row("driver unpublish", res.unpublish);
    if (!noBarePlugin) {
      r.row("bare plugin publish (gRPC+mkdir+bind)", res.barePublish);
      r.row("bare plugin unpublish (gRPC+umount+rmdir)", res.bareUnpublish);
    }
    r.row("raw bind (mkdir+mount)", res.bind);
    r.row("raw unmount (umount+rmdir)", res.unmount);
    if (!noDecompose) {
      r.row("gRPC no-op (NodeGetCapabilities)", res.noop);
      r.row("Probe (gRPC + node actor ask)", res.probe);
      r.row("NodeGetVolumeStats", res.stats);
    }
    long driverWall = Phase.wall(res.publish) + Phase.wall(res.unpublish);
    long rawWall = Phase.wall(res.bind) + Phase.wall(res.unmount);
    double driverPairs = pairs / (driverWall / 1e9);
    double rawPairs = pairs / (rawWall / 1e9);
    r.line(
        "throughput: driver %.1f pairs/s (%d pairs in %s), raw %.1f pairs/s (%s)%s",
        driverPairs,
        pairs,
        Report.seconds(driverWall),
        rawPairs,
        Report.seconds(rawWall),
        noBarePlugin
            ? ""
            : String.format(
                Locale.ROOT,
                ", bare plugin %.1f pairs/s",
                pairs / ((Phase.wall(res.barePublish) + Phase.wall(res.bareUnpublish)) / 1e9)));
    long driverCpu =
        res.publish.stream().mapToLong(Phase.Result::driverCpuNanos).sum()
            + res.unpublish.stream().mapToLong(Phase.Result::driverCpuNanos).sum();
    long benchCpu =
        res.publish.stream().mapToLong(Phase.Result::benchCpuNanos).sum()
            + res.unpublish.stream().mapToLong(Phase.Result::benchCpuNanos).sum();
    if (driver > 0) {
      r.line(
          "driver CPU during publish+unpublish phases: %s for %s wall = %.2f cores busy",
          Report.seconds(driverCpu), Report.seconds(driverWall), (double) driverCpu / driverWall);
    }
    r.line(
        "bench (kubelet side) CPU during those phases: %s = %.2f cores busy",
        Report.seconds(benchCpu), (double) benchCpu / driverWall);
    Latencies pub = Latencies.of(Phase.samples(res.publish));
    Latencies unp = Latencies.of(Phase.samples(res.unpublish));
    Latencies bind = Latencies.of(Phase.samples(res.bind));
    Latencies unm = Latencies.of(Phase.samples(res.unmount));
    double pubRatio = Latencies.ratioAtP50(pub, bind);
    double unpRatio = Latencies.ratioAtP50(unp, unm);
    double pairRatio = (double) (pub.p50() + unp.p50()) / (bind.p50() + unm.p50());
    r.line(
        "ratio driver/raw at p50: publish %.1fx, unpublish %.1fx, pair %.1fx",
        pubRatio, unpRatio, pairRatio);
    if (!noDecompose) {
      // What the driver adds to the transport: the same channel's no-op call taken away.
      long transport = Latencies.of(Phase.samples(res.noop)).p50();
      r.line(
          "beyond a gRPC no-op (%s ms) at p50: publish %s ms (%.1fx raw bind), unpublish %s ms"
              + " (%.1fx raw unmount)",
          Latencies.ms(transport),
          Latencies.ms(pub.p50() - transport),
          (double) (pub.p50() - transport) / bind.p50(),
          Latencies.ms(unp.p50() - transport),
          (double) (unp.p50() - transport) / unm.p50());
    }
    long rawPair = bind.p50() + unm.p50();
    long pairBeyond = 0;
    if (!noBarePlugin) {
      // The transport's floor: the same calls to a plugin that only binds and unmounts.
      Latencies barePub = Latencies.of(Phase.samples(res.barePublish));
      Latencies bareUnp = Latencies.of(Phase.samples(res.bareUnpublish));
      r.line(
          "bare plugin / raw at p50: publish %.1fx, unpublish %.1fx, pair %.1fx (the "
              + "transport's floor)",
          Latencies.ratioAtP50(barePub, bind),
          Latencies.ratioAtP50(bareUnp, unm),
          (double) (barePub.p50() + bareUnp.p50()) / rawPair);
      long pubBeyond = pub.p50() - barePub.p50();
      long unpBeyond = unp.p50() - bareUnp.p50();
      pairBeyond = pubBeyond + unpBeyond;
      r.line(
          "driver beyond a bare plugin at p50: publish %s ms (%.1fx raw bind), unpublish %s ms"
              + " (%.1fx raw unmount), pair %s ms (%.1fx raw pair)",
          Latencies.ms(pubBeyond),
          (double) pubBeyond / bind.p50(),
          Latencies.ms(unpBeyond),
          (double) unpBeyond / unm.p50(),
          Latencies.ms(pairBeyond),
          (double) pairBeyond / rawPair);
    }
    r.target(
        "whole call: driver on a ready client within 2x of raw bind at p50",
        pairRatio <= 2,
        String.format(Locale.ROOT, "pair %.1fx", pairRatio));
    if (!noBarePlugin) {
      r.target(
          "driver overhead beyond a bare plugin within 2x of raw bind at p50",
          pairBeyond <= 2 * rawPair,
          String.format(
              Locale.ROOT,
              "pair %s ms beyond the bare plugin = %.1fx raw pair %s ms",
              Latencies.ms(pairBeyond),
              (double) pairBeyond / rawPair,
              Latencies.ms(rawPair)));
    }
    r.target(
        ">= 1000 pairs/s (the issue asks it at 256 callers on 2 cores)",
        driverPairs >= 1000,
        String.format(Locale.ROOT, "%.1f pairs/s at %d callers", driverPairs, concurrency));
    if (res.errors() > 0) {
      r.line("ERRORS: %d operations failed or left a target in the wrong state", res.errors());
    }
  }
}

package io.jfscsi.host;

import io.jfscsi.host.StaleCopies.FreshVolume;
import io.jfscsi.host.StaleCopies.StaleCopy;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Recovery that reaches containers without HostToContainer propagation. Binding a target again on
 * the host reaches only the mount namespaces that receive the host's mount events; a container
 * whose volume mount is private keeps its own copy of the dead mount. After a client is ready again
 * and the host's targets are bound again, this finds every other mount namespace on the node that
 * holds a dead copy of one of the client's targets ({@link StaleCopies}) and replaces it there with
 * a fresh clone of the client's mount, through the native helper ({@link NsBindHelper}).
 *
 * <p>Safety, on this side: only copies recognized as a copy of a target in the caller's reference
 * set; only in a namespace that still holds that copy when the helper starts; only copies that are
 * dead (statfs through /proc/PID/root answers ENOTCONN, EIO, or not at all), so a live mount of
 * another client of the same file system is never replaced. The helper itself refuses a target that
 * is not a mount point in the namespace it entered, never follows a symbolic link there, and gives
 * the fresh mount every restriction (ro, nosuid, nodev, noexec) the stale one had.
 *
 * <p>Files that were open before the crash stay broken: their descriptors point at the dead
 * client's mount, which no re-bind can replace. Processes must open them again.
 */
public final class NamespaceRecovery implements ContainerRecovery {
  private static final Logger log = LoggerFactory.getLogger(NamespaceRecovery.class);
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  private final Optional<NsBindHelper> helper;
  private final String missingHelper;
  private final ContainerRecoveryListener listener;
  private final Duration timeout;
  private final TimedCalls timed;

  /**
   * @param timeout bounds each liveness check and each run of the helper
   */
  public NamespaceRecovery(
      NsBindHelper helper, ContainerRecoveryListener listener, Duration timeout) {
    this(Optional.of(helper), "", listener, timeout);
  }

  private NamespaceRecovery(
      Optional<NsBindHelper> helper,
      String missingHelper,
      ContainerRecoveryListener listener,
      Duration timeout) {
    this.helper = helper;
    this.missingHelper = missingHelper;
    this.listener = listener;
    this.timeout = timeout;
    this.timed = new TimedCalls(timeout);
  }

  /**
   * Installs the helper into {@code dir} (the driver's state directory's {@code bin/}). When that
   * fails the driver still runs: containers are found and reported, each as not recovered.
   */
  public static NamespaceRecovery installedIn(Path dir, ContainerRecoveryListener listener) {
    try {
      return new NamespaceRecovery(NsBindHelper.install(dir), listener, DEFAULT_TIMEOUT);
    } catch (IOException | RuntimeException e) {
      String why =
          "the helper "
              + NsBindHelper.FILE_NAME
              + " could not be installed in "
              + dir
              + ": "
              + e.getMessage();
      log.warn("{}; containers without HostToContainer propagation will not be recovered", why);
      return new NamespaceRecovery(Optional.empty(), why, listener, DEFAULT_TIMEOUT);
    }
  }

  /**
   * {@inheritDoc}
   *
   * <p>Logs one line per container.
   */
  @Override
  public List<ContainerOutcome> recover(String volumeId, Path source, Set<Path> targets) {
    long started = System.nanoTime();
    Set<Path> references = Set.copyOf(targets);
    try {
      Path canonical =
          timed
              .call("realpath " + source, () -> HostPaths.canonical(source))
              .orElse(source.toAbsolutePath().normalize());
      Optional<FreshVolume> fresh = FreshVolume.of(canonical, MountInfo.self());
      if (fresh.isEmpty()) {
        log.warn("volume {}: no mount holds {}; containers not checked", volumeId, canonical);
        return List.of();
      }
      List<StaleCopy> stale = find(fresh.get(), references);
      List<ContainerOutcome> outcomes = new ArrayList<>();
      for (StaleCopy copy : stale) {
        outcomes.add(repair(volumeId, references, copy));
      }
      long ms = (System.nanoTime() - started) / 1_000_000;
      long recovered = outcomes.stream().filter(ContainerOutcome::recovered).count();
      long namespaces = outcomes.stream().mapToLong(ContainerOutcome::namespace).distinct().count();
      if (outcomes.isEmpty()) {
        log.debug(
            "volume {}: no container holds a dead copy of its {} targets ({} ms)",
            volumeId,
            references.size(),
            ms);
      } else {
        log.info(
            "volume {}: {} dead copies in {} containers (mount namespaces): {} recovered,"
                + " {} not, in {} ms",
            volumeId,
            outcomes.size(),
            namespaces,
            recovered,
            outcomes.size() - recovered,
            ms);
      }
      return outcomes;
    } catch (RuntimeException e) {
      log.error("volume {}: recovering containers failed: {}", volumeId, e.toString(), e);
      return List.of();
    }
  }

  /** The dead copies of the volume in every other mount namespace of this node. */
  List<StaleCopy> find(FreshVolume fresh, Set<Path> references) {
    long started = System.nanoTime();
    List<MountNamespaces.Namespace> namespaces = MountNamespaces.others();
    long scanned = System.nanoTime();
    List<StaleCopy> dead = new ArrayList<>();
    for (MountNamespaces.Namespace ns : namespaces) {
      for (StaleCopy copy : StaleCopies.in(ns, fresh, references)) {
        if (isDead(copy)) {
          dead.add(copy);
        } else {
          log.debug(
              "mount namespace {}: {} is another live mount of the file system; left alone",
              ns.inode(),
              copy.mountPoint());
        }
      }
    }
    log.debug(
        "{} other mount namespaces read in {} ms, {} dead copies found in {} ms",
        namespaces.size(),
        (scanned - started) / 1_000_000,
        dead.size(),
        (System.nanoTime() - scanned) / 1_000_000);
    return dead;
  }

  /**
   * Replaces one stale copy, after checking again what may have changed since it was found.
   * Refuses, without running the helper, a copy of no referenced target and a namespace that no
   * longer holds it.
   */
  ContainerOutcome repair(String volumeId, Set<Path> references, StaleCopy copy) {
    long started = System.nanoTime();
    String refused = refusal(references, copy);
    if (refused != null) {
      return report(volumeId, copy, false, true, "refused: " + refused, started);
    }
    String moved = changedSinceFound(copy);
    if (moved != null) {
      // The process it was found through exited (a short-lived one can be the namespace's
      // lowest pid once pids wrap), or the copy went: a later scan finds it again, or not.
      return report(volumeId, copy, false, false, "not tried: " + moved, started);
    }
    if (helper.isEmpty()) {
      return report(volumeId, copy, false, false, missingHelper, started);
    }
    NsBindHelper.Result result =
        helper.get().run(copy.pid(), copy.source(), copy.mountPoint(), timeout);
    return report(
        volumeId,
        copy,
        result.ok(),
        false,
        result.ok() ? "bound again" : "helper exit " + result.exitCode() + ": " + result.message(),
        started);
  }

  /** Why a copy must never be touched, or null. */
  private static String refusal(Set<Path> references, StaleCopy copy) {
    if (copy.target().isEmpty()) {
      return "it is a copy of no target with a reference (not at a target's path, and not in a"
          + " container of a referencing pod)";
    }
    if (!references.contains(copy.target().get())) {
      return "the driver holds no reference for " + copy.target().get();
    }
    return null;
  }

  /** What changed since the copy was found that makes this try moot, or null. */
  private static String changedSinceFound(StaleCopy copy) {
    if (!MountNamespaces.stillIn(copy.pid(), copy.namespace())) {
      return "process " + copy.pid() + " is no longer in mount namespace " + copy.namespace();
    }
    try {
      if (MountInfo.ofProcess(copy.pid()).stream()
          .noneMatch(e -> e.mountPoint().equals(copy.mountPoint()))) {
        return "mount namespace " + copy.namespace() + " no longer holds " + copy.mountPoint();
      }
    } catch (UncheckedIOException e) {
      return "process " + copy.pid() + " is gone";
    }
    return null;
  }

  private ContainerOutcome report(
      String volumeId,
      StaleCopy copy,
      boolean recovered,
      boolean refused,
      String reason,
      long started) {
    ContainerOutcome outcome =
        new ContainerOutcome(
            volumeId,
            copy.target(),
            copy.pid(),
            copy.namespace(),
            copy.mountPoint(),
            copy.source(),
            copy.podUid(),
            recovered,
            refused,
            reason,
            Duration.ofNanos(System.nanoTime() - started));
    if (recovered) {
      log.info("volume {}: {}", volumeId, outcome.describe());
    } else {
      log.warn("volume {}: {}", volumeId, outcome.describe());
    }
    try {
      listener.onOutcome(outcome);
    } catch (RuntimeException e) {
      log.warn("volume {}: the container recovery listener failed: {}", volumeId, e.toString());
    }
    return outcome;
  }

  /**
   * Whether the copy's file system is gone, asked through /proc/PID/root (which enters the
   * process's namespace for path lookups): statfs always reaches a FUSE client, so a dead one
   * answers ENOTCONN at once and a hung one not at all.
   */
  private boolean isDead(StaleCopy copy) {
    Path inside =
        Path.of("/proc", Long.toString(copy.pid()), "root")
            .resolve(Path.of("/").relativize(copy.mountPoint()));
    Optional<Integer> errno =
        timed.call(
            "statvfs " + inside,
            () -> {
              try (Arena arena = Arena.ofConfined()) {
                return Libc.statvfs(inside, arena.allocate(Libc.STATVFS_SIZE));
              }
            });
    if (errno.isEmpty()) {
      return true;
    }
    int err = errno.get();
    return err == Libc.ENOTCONN || err == Libc.EIO || err == Libc.ECONNABORTED;
  }
}

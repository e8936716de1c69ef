package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.juicefs.ClientResources;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies a client's CPU and memory requests and limits to its process through a cgroup {@code
 * jfs-csi/NAME} (NAME from the client key) in each hierarchy that has the controller.
 *
 * <p>Best-effort: local mode has no kubelet to enforce resources, so a host that does not allow
 * this (no controller, read-only cgroupfs, not root) gets one WARN and clients run unlimited;
 * nothing here throws. Holds no per-client state: the cgroup's path is derived from the key, so a
 * restarted driver finds the cgroups of the clients it adopts. The hierarchies are looked up on
 * each call (one read of mountinfo) so that none of this runs for clients without resources.
 */
final class ClientCgroup {
  private static final Logger log = LoggerFactory.getLogger(ClientCgroup.class);
  static final String PARENT = "jfs-csi";
  private static final List<String> CONTROLLERS = List.of("cpu", "memory");

  /** How long rmdir may keep failing with EBUSY while the kernel finishes a process's exit. */
  private static final Duration RMDIR_WAIT = Duration.ofSeconds(2);

  private final Supplier<List<MountEntry>> mounts;

  /** Only for "warn once": the warning is about the host, not about each client. */
  private final AtomicBoolean warned = new AtomicBoolean();

  ClientCgroup() {
    this(MountInfo::self);
  }

  /** With the mount table from {@code mounts} (tests point it at a fake cgroupfs). */
  ClientCgroup(Supplier<List<MountEntry>> mounts) {
    this.mounts = mounts;
  }

  /** Puts a just-started client into its cgroup, before it serves anything. */
  void apply(ClientKey key, ClientResources resources, long pid) {
    if (!CgroupLimits.any(resources)) {
      return;
    }
    try {
      for (Map.Entry<CgroupHierarchy, List<String>> t : targets(resources).entrySet()) {
        place(key, t.getKey(), t.getValue(), resources, pid);
      }
      log.info(
          "client {} (pid {}) runs in cgroup {} with {}",
          key,
          pid,
          CgroupHierarchy.relative(key),
          CgroupLimits.describe(resources));
    } catch (IOException e) {
      failed(key, pid, e);
    }
  }

  /**
   * An adopted client was put in its cgroup by an earlier driver; puts it back in each hierarchy
   * where /proc/PID/cgroup shows it elsewhere (e.g. the cgroup was removed by hand).
   */
  void adopt(ClientKey key, ClientResources resources, long pid) {
    if (!CgroupLimits.any(resources)) {
      return;
    }
    try {
      List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"));
      for (Map.Entry<CgroupHierarchy, List<String>> t : targets(resources).entrySet()) {
        CgroupHierarchy h = t.getKey();
        if (memberOf(lines, h, key)) {
          log.debug("adopted client {} (pid {}) is still in {}", key, pid, h.dirOf(key));
        } else {
          log.info(
              "adopted client {} (pid {}) is not in {}: applying its resources again",
              key,
              pid,
              h.dirOf(key));
          place(key, h, t.getValue(), resources, pid);
        }
      }
    } catch (IOException e) {
      failed(key, pid, e);
    }
  }

  /**
   * Removes the client's cgroups once its process is gone. rmdir never harms a process: it fails
   * while the cgroup holds one, and the cgroup is then left (with a WARN) rather than forced. The
   * shared {@code jfs-csi} parent stays: removing it would race with another client's start.
   */
  void remove(ClientKey key) {
    List<Path> dirs = new ArrayList<>();
    List<MountEntry> table;
    try {
      table = mounts.get();
    } catch (RuntimeException e) {
      log.debug("cannot read the mount table to remove the cgroups of {}: {}", key, e.toString());
      return;
    }
    for (String c : CONTROLLERS) {
      CgroupHierarchy.find(table, c)
          .map(h -> h.dirOf(key))
          .filter(d -> !dirs.contains(d))
          .ifPresent(dirs::add);
    }
    for (Path dir : dirs) {
      if (Files.isDirectory(dir) && rmdir(dir)) {
        log.debug("removed cgroup {} of client {}", dir, key);
      }
    }
  }

  /** Hierarchies to use, each with the controllers it serves for these resources. */
  private Map<CgroupHierarchy, List<String>> targets(ClientResources r) throws IOException {
    List<MountEntry> table;
    try {
      table = mounts.get();
    } catch (RuntimeException e) {
      throw new IOException("cannot read the mount table: " + e.getMessage(), e);
    }
    // Keyed by mount point: on v2 one hierarchy serves both controllers.
    Map<Path, CgroupHierarchy> byMount = new LinkedHashMap<>();
    Map<CgroupHierarchy, List<String>> targets = new LinkedHashMap<>();
    for (String c : CONTROLLERS) {
      if (c.equals("cpu") ? !CgroupLimits.needsCpu(r) : !CgroupLimits.needsMemory(r)) {
        continue;
      }
      CgroupHierarchy h =
          CgroupHierarchy.find(table, c)
              .orElseThrow(
                  () ->
                      new IOException(
                          "no mounted cgroup hierarchy offers the " + c + " controller"));
      CgroupHierarchy key = byMount.computeIfAbsent(h.mountPoint(), m -> h);
      targets.computeIfAbsent(key, k -> new ArrayList<>()).add(c);
    }
    return targets;
  }

  private static void place(
      ClientKey key, CgroupHierarchy h, List<String> controllers, ClientResources r, long pid)
      throws IOException {
    Path parent = h.mountPoint().resolve(PARENT);
    Path dir = h.dirOf(key);
    if (h.unified()) {
      // v2 offers a controller's files in a cgroup only if every ancestor delegates it.
      enable(h.mountPoint(), controllers);
      mkdir(parent);
      enable(parent, controllers);
    } else {
      mkdir(parent);
    }
    mkdir(dir);
    // Limits before the pid: a v1 memory limit below the current usage would be refused.
    for (String c : controllers) {
      for (Map.Entry<String, String> f : CgroupLimits.files(c, h.unified(), r).entrySet()) {
        write(dir.resolve(f.getKey()), f.getValue());
      }
    }
    write(dir.resolve("cgroup.procs"), Long.toString(pid));
  }

  private static void enable(Path cgroup, List<String> controllers) throws IOException {
    Path control = cgroup.resolve("cgroup.subtree_control");
    List<String> missing =
        controllers.stream().filter(c -> !CgroupHierarchy.listedIn(control, c)).toList();
    if (!missing.isEmpty()) {
      // EBUSY here: the cgroup holds processes itself (v2's "no internal processes" rule).
      write(control, String.join(" ", missing.stream().map(c -> "+" + c).toList()));
    }
  }

  static boolean memberOf(List<String> procCgroupLines, CgroupHierarchy h, ClientKey key) {
    String expected = h.procPathOf(key);
    return procCgroupLines.stream()
        .filter(h::ownsLine)
        .anyMatch(l -> l.split(":", 3)[2].equals(expected));
  }

  private static void mkdir(Path dir) throws IOException {
    try {
      Files.createDirectory(dir);
    } catch (FileAlreadyExistsException e) {
      if (!Files.isDirectory(dir)) {
        throw e;
      }
    }
  }

  /** Without CREATE: a control file that is missing means the controller is not there. */
  private static void write(Path file, String value) throws IOException {
    Files.write(
        file,
        value.getBytes(StandardCharsets.US_ASCII),
        StandardOpenOption.WRITE,
        StandardOpenOption.TRUNCATE_EXISTING);
  }

  private static boolean rmdir(Path dir) {
    long deadline = System.nanoTime() + RMDIR_WAIT.toNanos();
    while (true) {
      try {
        Files.delete(dir);
        return true;
      } catch (NoSuchFileException e) {
        return true;
      } catch (IOException e) {
        // EBUSY while an exited process is still being detached; anything else will not pass.
        boolean busy =
            e instanceof FileSystemException f && String.valueOf(f.getReason()).contains("busy");
        if (!busy || System.nanoTime() - deadline > 0) {
          log.warn("left cgroup {} in place: {}", dir, describe(e));
          return false;
        }
        ProcInfo.sleep(Duration.ofMillis(20));
      }
    }
  }

  private void failed(ClientKey key, long pid, IOException e) {
    if (!ProcInfo.isRunning(pid)) {
      // cgroup.procs refuses a pid that is gone (ESRCH): the start fails on its own; not the host's
      // fault.
      log.debug("client {} (pid {}) exited before it was put in its cgroup", key, pid);
      return;
    }
    unavailable(key, describe(e));
  }

  private void unavailable(ClientKey key, String reason) {
    if (warned.compareAndSet(false, true)) {
      log.warn(
          "CPU/memory resources of client {} not applied: {}. In local mode resources are best-effort"
              + " through cgroups (Kubernetes enforces them for Mount Pods); clients run without these limits"
              + " on this host. Further cases are logged at DEBUG.",
          key,
          reason);
    } else {
      log.debug("CPU/memory resources of client {} not applied: {}", key, reason);
    }
  }

  static String describe(IOException e) {
    return switch (e) {
      case AccessDeniedException a ->
          "permission denied on " + a.getFile() + " (the driver must run as root)";
      case NoSuchFileException n ->
          n.getFile() + " does not exist (controller not available there)";
      case FileSystemException f ->
          f.getFile() + ": " + Optional.ofNullable(f.getReason()).orElse(f.toString());
      default -> String.valueOf(e.getMessage());
    };
  }
}

package io.jfscsi.bench;

import io.jfscsi.host.HostPaths;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.host.ProcInfo;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * What the bench reads from the host, without asking the driver: the mount table, processes in
 * /proc, and a process's memory. Works for any CSI driver whose targets are bind mounts of a FUSE
 * client's mount.
 */
final class Host {
  private Host() {}

  private static final List<String> CLIENT_PROGRAMS = List.of("bindfs", "juicefs");

  /** A client's own mount (outside the kubelet root) and the directory a target binds from it. */
  record ClientMount(int mountId, Path mountPoint, String fsType, Path source) {}

  /**
   * The mount that backs {@code target}: same device, mounted outside the kubelet root (the
   * client's own mount point). Its mount point plus the target's root inside that file system is
   * what the driver bound, so the raw baseline binds the very same directory.
   */
  static Optional<ClientMount> clientMountOf(Path target, Path kubeletRoot) {
    List<MountEntry> table = MountInfo.self();
    Path canonical = canonical(target);
    Optional<MountEntry> bound = MountInfo.topMostAt(table, canonical);
    if (bound.isEmpty()) {
      return Optional.empty();
    }
    MountEntry t = bound.get();
    Path root = canonical(kubeletRoot);
    for (MountEntry e : table.reversed()) {
      if (e.device().equals(t.device())
          && !e.mountPoint().startsWith(root)
          && isPrefix(e.root(), t.root())) {
        String rest = t.root().substring(e.root().length()).replaceFirst("^/+", "");
        Path source = rest.isEmpty() ? e.mountPoint() : e.mountPoint().resolve(rest);
        return Optional.of(new ClientMount(e.id(), e.mountPoint(), e.fsType(), source));
      }
    }
    return Optional.empty();
  }

  private static boolean isPrefix(String outer, String inner) {
    return outer.equals("/") || inner.equals(outer) || inner.startsWith(outer + "/");
  }

  /** The top-most mount at {@code path} now (by the mount table), if any. */
  static Optional<MountEntry> mountAt(Path path) {
    return MountInfo.topMostAt(MountInfo.self(), canonical(path));
  }

  /**
   * The file system {@code dir} is on: type and source of the deepest mount above it, and for ext4
   * whether it has a journal. Without one, ext4 makes every mkdir step over the inodes deleted in
   * the last minutes (ialloc.c {@code recently_deleted}), so mkdir, and with it a raw bind and a
   * publish, slows down with each earlier rmdir: a mkdir/rmdir bench then measures the file
   * system's history.
   */
  static String fileSystemOf(Path dir) {
    Path canonical = canonical(dir);
    Optional<MountEntry> below =
        MountInfo.self().stream()
            .filter(e -> canonical.startsWith(e.mountPoint()))
            .reduce(
                (a, b) -> b.mountPoint().getNameCount() >= a.mountPoint().getNameCount() ? b : a);
    if (below.isEmpty()) {
      return "unknown";
    }
    MountEntry fs = below.get();
    String text = fs.fsType() + " " + fs.source() + " at " + fs.mountPoint();
    if (fs.fsType().equals("ext4")) {
      Path journal =
          Path.of("/sys/fs/ext4", Path.of(fs.source()).getFileName().toString(), "journal_task");
      try {
        if (Files.readString(journal).strip().equals("<none>")) {
          text +=
              " WITHOUT A JOURNAL: each mkdir steps over recently deleted inodes, so mkdir "
                  + "(raw bind, publish) slows down with earlier rmdirs; see docs/performance.md";
        }
      } catch (IOException | RuntimeException e) {
        // not known: say nothing
      }
    }
    return text;
  }

  static int mountCount() {
    return MountInfo.self().size();
  }

  static Path canonical(Path p) {
    return HostPaths.canonical(p);
  }

  // ---- processes --------------------------------------------------------------------------

  /** A process's arguments, juicefs's rewritten process title split back into them. */
  static List<String> cmdline(long pid) {
    return ProcInfo.arguments(pid);
  }

  static List<Long> pids() {
    List<Long> out = new ArrayList<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/proc"))) {
      for (Path d : dirs) {
        String name = d.getFileName().toString();
        if (!name.isEmpty() && name.chars().allMatch(Character::isDigit)) {
          out.add(Long.parseLong(name));
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out;
  }

  /** The FUSE client serving {@code mountPoint}: bindfs or juicefs with it on its command line. */
  static OptionalLong clientPid(Path mountPoint) {
    for (long pid : pids()) {
      if (ProcInfo.runsClientFor(pid, mountPoint, CLIENT_PROGRAMS)) {
        return OptionalLong.of(pid);
      }
    }
    return OptionalLong.empty();
  }

  /** A java process running {@code serve} whose command line names {@code socket}. */
  static OptionalLong driverPid(String endpoint) {
    String socket =
        endpoint.startsWith("unix://") ? endpoint.substring("unix://".length()) : endpoint;
    long self = ProcessHandle.current().pid();
    for (long pid : pids()) {
      if (pid == self) {
        continue;
      }
      List<String> args = cmdline(pid);
      if (args.contains("serve")
          && args.stream().anyMatch(a -> a.contains(socket))
          && !args.contains("bench")) {
        return OptionalLong.of(pid);
      }
    }
    return OptionalLong.empty();
  }

  /** Alive and not a zombie. */
  static boolean running(long pid) {
    return ProcInfo.isRunning(pid);
  }

  /**
   * CPU time (user + system) a process has used so far, in nanoseconds, from /proc/PID/stat (fields
   * 14 and 15, in clock ticks of 1/100 s: USER_HZ is 100 on Linux); -1 if unknown.
   */
  static long cpuNanos(long pid) {
    try {
      String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
      String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      // f[0] is field 3 (state): utime is field 14, stime field 15.
      return (Long.parseLong(f[11]) + Long.parseLong(f[12])) * 10_000_000L;
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  /** /proc/PID/status as key to value (e.g. VmRSS to "123456 kB"). */
  static Map<String, String> status(long pid) {
    Map<String, String> out = new LinkedHashMap<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
        int colon = line.indexOf(':');
        if (colon > 0) {
          out.put(line.substring(0, colon), line.substring(colon + 1).strip());
        }
      }
    } catch (IOException e) {
      return Map.of();
    }
    return out;
  }

  /** A /proc/PID/status field in kB as MiB, or NaN. */
  static double mib(Map<String, String> status, String key) {
    String v = status.get(key);
    if (v == null || !v.endsWith(" kB")) {
      return Double.NaN;
    }
    return Long.parseLong(v.substring(0, v.length() - 3).strip()) / 1024.0;
  }

  /** One line on the machine: cores, memory, kernel, load. */
  static String machine() {
    String load;
    try {
      load = Files.readString(Path.of("/proc/loadavg")).strip();
    } catch (IOException e) {
      load = "?";
    }
    String mem = "?";
    try {
      for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
        if (line.startsWith("MemTotal:")) {
          mem =
              String.format(
                  Locale.ROOT,
                  "%.1f GiB",
                  Long.parseLong(line.replaceAll("\\D", "")) / 1024.0 / 1024.0);
        }
      }
    } catch (IOException | RuntimeException e) {
      // keep "?"
    }
    String kernel;
    try {
      kernel = Files.readString(Path.of("/proc/sys/kernel/osrelease")).strip();
    } catch (IOException e) {
      kernel = System.getProperty("os.version");
    }
    return "nproc="
        + Runtime.getRuntime().availableProcessors()
        + " mem="
        + mem
        + " kernel="
        + kernel
        + " loadavg="
        + load
        + " mounts="
        + mountCount();
  }
}

package io.jfscsi.host;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The mount namespaces of this node's processes, one entry per namespace, found through /proc (the
 * node plugin sees host pids). Each namespace is known by the inode of /proc/PID/ns/mnt and read
 * through its oldest process, for a container its first one (not its lowest pid: once pids wrap,
 * that may be a short-lived child).
 */
final class MountNamespaces {
  private MountNamespaces() {}

  /**
   * One mount namespace.
   *
   * @param inode identifies the namespace on this node
   * @param pid the process it was read through; the helper enters it through this pid
   * @param mounts its mount table, as that process sees it
   * @param cgroup that process's /proc/PID/cgroup, which names the pod of a container
   */
  record Namespace(long inode, long pid, List<MountEntry> mounts, String cgroup) {}

  /** Every mount namespace but this process's own, lowest pid first. */
  static List<Namespace> others() {
    return others(Path.of("/proc"));
  }

  /** As {@link #others()}, with {@code proc} standing for /proc (tests lay out a fake one). */
  static List<Namespace> others(Path proc) {
    long own = inodeOf(proc.resolve("self"));
    Map<Long, List<Long>> pidsByNamespace = new TreeMap<>();
    for (long pid : pids(proc)) {
      long inode = inodeOf(proc.resolve(Long.toString(pid)));
      if (inode >= 0 && inode != own) {
        pidsByNamespace.computeIfAbsent(inode, i -> new ArrayList<>()).add(pid);
      }
    }
    List<Namespace> namespaces = new ArrayList<>();
    pidsByNamespace.forEach(
        (inode, pids) -> {
          if (pids.size() > 1) {
            pids.sort(Comparator.comparingLong(pid -> startTime(proc.resolve(Long.toString(pid)))));
          }
          // A process may exit while we look: read the namespace through the next one.
          for (long pid : pids) {
            try {
              Path dir = proc.resolve(Long.toString(pid));
              namespaces.add(
                  new Namespace(
                      inode, pid, MountInfo.read(dir.resolve("mountinfo")), cgroupOf(dir)));
              break;
            } catch (UncheckedIOException | IllegalArgumentException gone) {
              // exited, or its mountinfo was cut short while it exited
            }
          }
        });
    return namespaces;
  }

  /** The mount namespace inode of a /proc/PID directory, -1 when it cannot be read. */
  static long inodeOf(Path procPid) {
    try {
      // The link reads "mnt:[4026531841]".
      String link = Files.readSymbolicLink(procPid.resolve("ns").resolve("mnt")).toString();
      int open = link.indexOf('[');
      int close = link.indexOf(']', open + 1);
      return open < 0 || close < 0 ? -1 : Long.parseLong(link.substring(open + 1, close));
    } catch (IOException | NumberFormatException | UnsupportedOperationException e) {
      return -1;
    }
  }

  /**
   * When the process started, in clock ticks since boot (field 22 of /proc/PID/stat, counted after
   * the command's closing parenthesis); Long.MAX_VALUE when it cannot be read.
   */
  static long startTime(Path procPid) {
    try {
      String stat = Files.readString(procPid.resolve("stat"));
      String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
      return Long.parseLong(after[19]);
    } catch (IOException | RuntimeException e) {
      return Long.MAX_VALUE;
    }
  }

  /** Whether process {@code pid} still lives in mount namespace {@code inode}. */
  static boolean stillIn(long pid, long inode) {
    return inodeOf(Path.of("/proc", Long.toString(pid))) == inode;
  }

  private static List<Long> pids(Path proc) {
    try (Stream<Path> entries = Files.list(proc)) {
      return entries
          .map(p -> p.getFileName().toString())
          .filter(n -> !n.isEmpty() && n.chars().allMatch(Character::isDigit))
          .map(Long::parseLong)
          .sorted()
          .toList();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + proc, e);
    }
  }

  private static String cgroupOf(Path procPid) {
    try {
      return new String(Files.readAllBytes(procPid.resolve("cgroup")), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }
}

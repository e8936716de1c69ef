package io.jfscsi.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.UUID;

/**
 * Cgroups named as kubelet names a pod's ({@code .../pod<uid>}, cgroupfs driver), in the first
 * cgroup hierarchy this host lets us write, for processes that play a pod's containers: the driver
 * tells which pod a container belongs to by its cgroup.
 */
public final class PodCgroups {
  private PodCgroups() {}

  /** Makes {@code <hierarchy>/jfscsi-test-<random>/pod<uid>}; returns both, outermost first. */
  public static List<Path> create(String uid) {
    List<Path> hierarchies =
        List.of(
            Path.of("/sys/fs/cgroup/pids"),
            Path.of("/sys/fs/cgroup/unified"),
            Path.of("/sys/fs/cgroup"));
    for (Path root : hierarchies) {
      if (!Files.isRegularFile(root.resolve("cgroup.procs"))) {
        continue;
      }
      try {
        Path kubepods = Files.createDirectory(root.resolve("jfscsi-test-" + UUID.randomUUID()));
        try {
          return List.of(kubepods, Files.createDirectory(kubepods.resolve("pod" + uid)));
        } catch (IOException e) {
          Files.deleteIfExists(kubepods);
          throw e;
        }
      } catch (IOException e) {
        System.err.println("cgroup hierarchy " + root + " not usable: " + e);
      }
    }
    HostRequirements.require(false, "a writable cgroup hierarchy under /sys/fs/cgroup");
    throw new IllegalStateException("unreachable");
  }

  /** Removes cgroups made by {@link #create}, innermost first, once their processes are gone. */
  public static void remove(List<Path> cgroups) {
    for (int i = cgroups.size() - 1; i >= 0; i--) {
      Path cgroup = cgroups.get(i);
      long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
      while (true) {
        try {
          Files.deleteIfExists(cgroup);
          break;
        } catch (IOException busy) {
          if (System.nanoTime() > deadline) {
            System.err.println("cannot remove cgroup " + cgroup + ": " + busy);
            break;
          }
          try {
            Thread.sleep(20);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }
  }
}

package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.host.MountEntry;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * Where a cgroup controller can be used on this host: a cgroup v1 hierarchy that has it (e.g.
 * /sys/fs/cgroup/cpu, possibly shared as "cpu,cpuacct"), or the v2 hierarchy when its root lists it
 * in cgroup.controllers. Found from the mount table rather than from fixed paths, because a hybrid
 * host mounts both kinds and a v2 mount without the controller (the "unified" one of a hybrid host)
 * must not be chosen.
 *
 * @param mountPoint where the hierarchy is mounted
 * @param root the cgroup mounted there, as /proc/PID/cgroup names cgroups ("/" normally)
 * @param unified cgroup v2
 */
record CgroupHierarchy(
    String controller, Path mountPoint, String root, boolean unified, boolean readOnly) {

  /** Our cgroup of a client, relative to the hierarchy's mount point. */
  static Path relative(ClientKey key) {
    return Path.of(ClientCgroup.PARENT, SafeNames.of(key));
  }

  Path dirOf(ClientKey key) {
    return mountPoint.resolve(relative(key));
  }

  /** The path /proc/PID/cgroup shows for a member of {@code key}'s cgroup. */
  String procPathOf(ClientKey key) {
    String base = root.endsWith("/") ? root : root + "/";
    return base + relative(key);
  }

  /** Whether a line of /proc/PID/cgroup ("ID:CONTROLLERS:PATH") is this hierarchy's. */
  boolean ownsLine(String line) {
    String[] f = line.split(":", 3);
    if (f.length < 3) {
      return false;
    }
    return unified
        ? f[0].equals("0") && f[1].isEmpty()
        : Arrays.asList(f[1].split(",")).contains(controller);
  }

  /** The hierarchy with {@code controller}, preferring a writable mount when there are several. */
  static Optional<CgroupHierarchy> find(List<MountEntry> mounts, String controller) {
    return mounts.stream()
        .map(m -> of(m, controller))
        .flatMap(Optional::stream)
        .min(Comparator.comparing(CgroupHierarchy::readOnly));
  }

  private static Optional<CgroupHierarchy> of(MountEntry m, String controller) {
    boolean has =
        switch (m.fsType()) {
          case "cgroup" -> Arrays.asList(m.superOptions().split(",")).contains(controller);
          case "cgroup2" -> listedIn(m.mountPoint().resolve("cgroup.controllers"), controller);
          default -> false;
        };
    return has
        ? Optional.of(
            new CgroupHierarchy(
                controller, m.mountPoint(), m.root(), m.fsType().equals("cgroup2"), m.readOnly()))
        : Optional.empty();
  }

  static boolean listedIn(Path file, String controller) {
    try {
      return Arrays.asList(Files.readString(file).trim().split("\\s+")).contains(controller);
    } catch (IOException e) {
      return false;
    }
  }
}

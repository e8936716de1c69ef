package io.jfscsi.host;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Recognizes, in another mount namespace's table, the copies of a volume's targets that were taken
 * before its client died. Pure: it judges mount tables, touches nothing.
 *
 * <p>A copy of a target is a mount of the same file system (type and source as mountinfo names
 * them) and of the target's directory in it (mountinfo's root field: the volume's sub-directory, or
 * one below it when the container mounts a subPath of the volume), on a device other than the fresh
 * client's: every FUSE mount gets a device of its own, so the old device means the dead client.
 * Whether it belongs to a referenced target is decided by where it is:
 *
 * <ul>
 *   <li>at the target's own path (a process that unshared its mount namespace on the host), or
 *   <li>anywhere in a container whose cgroup names the pod of the target ({@code
 *       .../pods/<uid>/volumes/...}); real containers mount the volume at their own path.
 * </ul>
 *
 * Copies that match neither are reported with no target and are never touched.
 */
final class StaleCopies {
  private StaleCopies() {}

  /**
   * The fresh volume as this host's mount table shows it.
   *
   * @param source the host path of the volume in the fresh client's mount (canonical)
   * @param device major:minor of the fresh client's mount
   * @param fsType file system type of that mount, e.g. fuse.juicefs
   * @param fsSource mount source of that mount, e.g. JuiceFS:myfs
   * @param root the volume's directory inside that file system, as mountinfo's root field
   */
  record FreshVolume(Path source, String device, String fsType, String fsSource, String root) {

    /** From the mount that holds {@code source} (canonical) in {@code hostMounts}. */
    static Optional<FreshVolume> of(Path source, List<MountEntry> hostMounts) {
      Optional<MountEntry> holding = MountInfo.holding(hostMounts, source);
      if (holding.isEmpty()) {
        return Optional.empty();
      }
      MountEntry mount = holding.get();
      String below = mount.mountPoint().relativize(source).toString();
      String root =
          below.isEmpty()
              ? mount.root()
              : mount.root().endsWith("/") ? mount.root() + below : mount.root() + "/" + below;
      return Optional.of(
          new FreshVolume(source, mount.device(), mount.fsType(), mount.source(), root));
    }

    /** The part of a copy's root below the volume's, "" for the volume itself; empty if not. */
    Optional<String> below(MountEntry copy) {
      if (!copy.fsType().equals(fsType) || !copy.source().equals(fsSource)) {
        return Optional.empty();
      }
      if (copy.root().equals(root)) {
        return Optional.of("");
      }
      String prefix = root.endsWith("/") ? root : root + "/";
      return copy.root().startsWith(prefix)
          ? Optional.of(copy.root().substring(prefix.length()))
          : Optional.empty();
    }
  }

  /**
   * A stale copy found in a namespace.
   *
   * @param target the referenced target it is a copy of; empty when none could be told
   * @param mountPoint where it is mounted, as that namespace sees it
   * @param source the fresh host path to bind there instead
   * @param podUid the pod of the container, when its cgroup names one of a target
   */
  record StaleCopy(
      long namespace,
      long pid,
      Optional<Path> target,
      Path mountPoint,
      Path source,
      Optional<String> podUid) {}

  /**
   * The stale copies in {@code ns} of the volume's {@code targets}, one per mount point (the top of
   * each stack). Liveness is not judged here: a live mount of another client of the same file
   * system also has another device, so callers must check that a copy is dead before repairing.
   */
  static List<StaleCopy> in(MountNamespaces.Namespace ns, FreshVolume fresh, Set<Path> targets) {
    Set<Path> seen = new LinkedHashSet<>();
    List<StaleCopy> copies = new ArrayList<>();
    for (MountEntry entry : ns.mounts()) {
      if (!seen.add(entry.mountPoint())) {
        continue;
      }
      MountEntry top = MountInfo.topMostAt(ns.mounts(), entry.mountPoint()).orElseThrow();
      Optional<String> below = fresh.below(top);
      if (below.isEmpty() || top.device().equals(fresh.device())) {
        continue;
      }
      Path source = below.get().isEmpty() ? fresh.source() : fresh.source().resolve(below.get());
      Optional<Path> target = Optional.empty();
      Optional<String> pod = Optional.empty();
      if (targets.contains(top.mountPoint())) {
        target = Optional.of(top.mountPoint());
      } else {
        for (Path t : targets) {
          Optional<String> uid = podUid(t);
          if (uid.isPresent() && cgroupNamesPod(ns.cgroup(), uid.get())) {
            target = Optional.of(t);
            pod = uid;
            break;
          }
        }
      }
      copies.add(new StaleCopy(ns.inode(), ns.pid(), target, top.mountPoint(), source, pod));
    }
    return copies;
  }

  /** The pod uid of a kubelet target {@code .../pods/<uid>/volumes/...}. */
  static Optional<String> podUid(Path target) {
    for (int i = 0; i + 2 < target.getNameCount(); i++) {
      if (target.getName(i).toString().equals("pods")
          && target.getName(i + 2).toString().equals("volumes")) {
        return Optional.of(target.getName(i + 1).toString());
      }
    }
    return Optional.empty();
  }

  /**
   * Whether a /proc/PID/cgroup text places the process in pod {@code uid}: kubelet names pod
   * cgroups {@code pod<uid>} (cgroupfs driver) or {@code ...-pod<uid with _ for ->.slice} (systemd
   * driver). The name must end there, so one uid never matches a longer one.
   */
  static boolean cgroupNamesPod(String cgroup, String uid) {
    for (String marker : List.of("pod" + uid, "pod" + uid.replace('-', '_'))) {
      for (int at = cgroup.indexOf(marker); at >= 0; at = cgroup.indexOf(marker, at + 1)) {
        char before = at == 0 ? '/' : cgroup.charAt(at - 1);
        int end = at + marker.length();
        char after = end == cgroup.length() ? '\n' : cgroup.charAt(end);
        if ((before == '/' || before == '-') && (after == '/' || after == '.' || after == '\n')) {
          return true;
        }
      }
    }
    return false;
  }
}

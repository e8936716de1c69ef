package io.jfscsi.webhook;

import io.jfscsi.juicefs.ClientCommand;
import java.nio.file.Path;
import java.util.List;

/**
 * The shell lines an injected client container runs: the client supervised by its shell (which
 * removes the mount point once the client exits), the postStart hook that holds the app until the
 * mount answers, and the preStop hook that unmounts and removes the mount point.
 */
final class SidecarScripts {
  private SidecarScripts() {}

  static final String EXEC = " && exec ";

  /**
   * Runs {@code client} as the child of the container's shell rather than in its place, so that its
   * mount point is removed once it exits: an exec'd preStop command cannot do it reliably, since
   * the kernel kills it along with the container's process namespace as soon as the client (its PID
   * 1) exits. The shell passes SIGTERM on (kubelet's stop), and exits with the client's status.
   */
  static String supervised(String client, Path mountPath) {
    String mp = ClientCommand.shellLine(List.of(mountPath.toString()));
    return "{ "
        + client
        + " & pid=$!; trap 'kill -TERM $pid 2>/dev/null' TERM INT;"
        + " while :; do wait $pid; rc=$?; kill -0 $pid 2>/dev/null || break; done; rmdir "
        + mp
        + " 2>/dev/null; exit $rc; }";
  }

  /**
   * Waits for the client's mount in /proc/mounts, then makes the sub-directory through it (which
   * also proves the mount answers); fails after {@code seconds}, so kubelet restarts the sidecar
   * and the app containers are never started on an empty directory.
   */
  static String readyScript(Path mountPath, String subPath, long seconds) {
    String mp = ClientCommand.shellLine(List.of(mountPath.toString()));
    String pattern = ClientCommand.shellLine(List.of(" " + mountPath + " "));
    String dir =
        ClientCommand.shellLine(
            List.of(
                subPath.isEmpty() ? mountPath.toString() : mountPath.resolve(subPath).toString()));
    return "i=0; until grep -qsF "
        + pattern
        + " /proc/mounts; do i=$((i+1)); if [ $i -ge "
        + Math.max(1, seconds)
        + " ]; then echo \"JuiceFS client not mounted at "
        + mp.replace("\"", "")
        + " after "
        + seconds
        + "s\" >&2; exit 1; fi; sleep 1; done; mkdir -p "
        + dir
        + " && stat "
        + dir
        + " >/dev/null";
  }

  /**
   * Unmounts the client's mount point and removes it, so that a pod that goes leaves nothing under
   * the mount root; a mount point that is not mounted or already gone counts as done. It runs as
   * the preStop hook when the pod is deleted, and from {@link SidecarExitWatcher} when a Job's app
   * is done: the client then exits 0 as its mount goes (the rmdir runs before the container stops,
   * since the client's exit takes longer than one system call). A plain unmount first: when it
   * fails (an app container still uses the mount) the lazy one detaches it anyway and the client
   * exits with the last user.
   */
  static String stopScript(Path mountPath) {
    String mp = ClientCommand.shellLine(List.of(mountPath.toString()));
    String pattern = ClientCommand.shellLine(List.of(" " + mountPath + " "));
    return "if grep -qsF "
        + pattern
        + " /proc/mounts; then umount "
        + mp
        + " 2>/dev/null || umount -l "
        + mp
        + " || exit 1; fi; rmdir "
        + mp
        + " 2>/dev/null || [ ! -e "
        + mp
        + " ]";
  }
}

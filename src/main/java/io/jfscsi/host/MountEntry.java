package io.jfscsi.host;

import java.nio.file.Path;

/**
 * One line of /proc/PID/mountinfo: {@code root} is the path inside the source file system that is
 * mounted at {@code mountPoint} (for a bind of a sub-directory it is that sub-directory); {@code
 * propagation} holds the optional fields ({@code shared:N master:N ...}), space separated.
 */
public record MountEntry(
    int id,
    int parentId,
    String device,
    String root,
    Path mountPoint,
    String options,
    String fsType,
    String source,
    String superOptions,
    String propagation) {

  /** Whether mounts and unmounts beneath it propagate to its peers (and their slaves). */
  public boolean shared() {
    for (String f : propagation.split(" ")) {
      if (f.startsWith("shared:")) {
        return true;
      }
    }
    return false;
  }

  public boolean readOnly() {
    for (String o : options.split(",")) {
      if (o.equals("ro")) {
        return true;
      }
    }
    return false;
  }
}

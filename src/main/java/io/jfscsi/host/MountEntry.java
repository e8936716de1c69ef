package io.jfscsi.host;

import java.nio.file.Path;

/**
 * One line of /proc/PID/mountinfo: {@code root} is the path inside the source file system that
 * is mounted at {@code mountPoint} (for a bind of a sub-directory it is that sub-directory).
 */
public record MountEntry(int id, int parentId, String device, String root, Path mountPoint,
                         String options, String fsType, String source, String superOptions) {

  public boolean readOnly() {
    for (String o : options.split(",")) {
      if (o.equals("ro")) {
        return true;
      }
    }
    return false;
  }
}

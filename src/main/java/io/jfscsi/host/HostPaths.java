package io.jfscsi.host;

import java.io.IOException;
import java.nio.file.Path;

/** Turns a path into the spelling /proc/self/mountinfo uses for it. */
public final class HostPaths {
  private HostPaths() {}

  /**
   * The real path; when that fails (a dead mount cannot be resolved) the real parent plus the last
   * name, and failing that the absolute normalized path. May block on a hung FUSE client, so
   * callers run it under a deadline.
   */
  public static Path canonical(Path path) {
    Path abs = path.toAbsolutePath().normalize();
    try {
      return abs.toRealPath();
    } catch (IOException whole) {
      Path parent = abs.getParent();
      if (parent == null) {
        return abs;
      }
      try {
        return parent.toRealPath().resolve(abs.getFileName());
      } catch (IOException parentToo) {
        return abs;
      }
    }
  }
}

package io.jfscsi.testing;

import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Tests that need root, /dev/fuse or bindfs call these first. Outside CI a missing requirement
 * skips the test with a loud message; inside CI (env CI=true) it fails the test, because CI is set
 * up to provide all of them and a silent skip there would hide a broken suite.
 */
public final class HostRequirements {
  private HostRequirements() {}

  public static boolean inCi() {
    return "true".equalsIgnoreCase(System.getenv("CI"));
  }

  public static void require(boolean present, String what) {
    if (present) {
      return;
    }
    String message = "HOST REQUIREMENT MISSING: " + what;
    System.err.println(
        "*** " + message + (inCi() ? " (failing: CI must provide it)" : " (skipping)"));
    if (inCi()) {
      fail(message);
    }
    assumeTrue(false, message);
  }

  public static boolean isRoot() {
    return "root".equals(System.getProperty("user.name"));
  }

  public static void requireRoot() {
    require(isRoot(), "root (mount and umount need CAP_SYS_ADMIN)");
  }

  public static void requireFuse() {
    requireRoot();
    require(Files.exists(Path.of("/dev/fuse")), "/dev/fuse");
    require(
        Files.isExecutable(Path.of("/usr/bin/bindfs")), "bindfs (apt-get install bindfs fuse3)");
  }
}

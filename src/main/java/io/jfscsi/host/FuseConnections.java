package io.jfscsi.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;

/**
 * The kernel's FUSE connections as the fusectl file system shows them (Documentation/filesystems
 * /fuse.rst, "Control filesystem"): one directory per connection, named after the minor device
 * number of its mounts, whose {@code waiting} counts the requests not answered yet and whose {@code
 * abort} ends every one of them (the client's mount then fails with ENOTCONN). Aborting frees the
 * processes that wait on a client that will never answer, which nothing else can kill.
 */
public final class FuseConnections {
  /** Where fusectl is mounted by convention. */
  public static final Path DEFAULT_DIR = Path.of("/sys/fs/fuse/connections");

  private static final String FUSECTL = "fusectl";

  private final Path dir;

  public FuseConnections(Path dir) {
    this.dir = dir;
  }

  public Path dir() {
    return dir;
  }

  /**
   * The connection of the FUSE mount at {@code mountPoint} in {@code table}: the minor of its
   * device number (mountinfo's {@code 0:MINOR}); empty if no FUSE file system is mounted there.
   */
  public static OptionalInt connectionAt(List<MountEntry> table, Path mountPoint) {
    return MountInfo.topMostAt(table, mountPoint)
        .filter(e -> e.fsType().equals("fuse") || e.fsType().startsWith("fuse."))
        .map(e -> minorOf(e.device()))
        .orElse(OptionalInt.empty());
  }

  /** Where connection {@code minor} is mounted in {@code table}, if anywhere. */
  public static Optional<Path> mountPointOf(List<MountEntry> table, int minor) {
    String device = "0:" + minor;
    return table.stream()
        .filter(e -> e.device().equals(device) && e.fsType().startsWith("fuse"))
        .map(MountEntry::mountPoint)
        .findFirst();
  }

  private static OptionalInt minorOf(String device) {
    int colon = device.indexOf(':');
    if (colon < 0 || !device.substring(0, colon).equals("0")) {
      return OptionalInt.empty(); // FUSE mounts are anonymous devices (major 0)
    }
    try {
      return OptionalInt.of(Integer.parseInt(device.substring(colon + 1)));
    } catch (NumberFormatException e) {
      return OptionalInt.empty();
    }
  }

  /** The requests waiting on connection {@code minor}; empty if there is no such connection. */
  public OptionalLong waiting(int minor) throws IOException {
    ensureMounted();
    try {
      String text = Files.readString(dir.resolve(Integer.toString(minor)).resolve("waiting"));
      return OptionalLong.of(Long.parseLong(text.strip()));
    } catch (NoSuchFileException e) {
      return OptionalLong.empty();
    }
  }

  /** Aborts connection {@code minor}: every waiting request fails, and so does every later one. */
  public void abort(int minor) throws IOException {
    ensureMounted();
    Files.write(
        dir.resolve(Integer.toString(minor)).resolve("abort"),
        "1".getBytes(StandardCharsets.US_ASCII));
  }

  /**
   * Mounts fusectl on the directory unless it is there: a container's fresh /sys lacks it, and so
   * does a host whose init did not mount it. fusectl is a single instance, so this shows the same
   * connections as any other mount of it.
   */
  void ensureMounted() throws IOException {
    boolean mounted =
        MountInfo.self().stream()
            .anyMatch(e -> e.fsType().equals(FUSECTL) && e.mountPoint().equals(dir));
    if (mounted) {
      return;
    }
    int err = Libc.mountType(FUSECTL, dir, FUSECTL, 0);
    if (err != 0 && err != Libc.EBUSY) {
      throw new IOException(
          "cannot mount fusectl on " + dir + ": " + Libc.strerror(err) + " (errno " + err + ")");
    }
  }
}

package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.util.Map;
import java.util.Optional;

/**
 * The JuiceFS directory quota that stands for a volume's size: which directory it limits and to how
 * many GiB ({@code juicefs quota set --capacity} takes whole GiB).
 *
 * <p>The Go driver truncates the bytes to GiB and refuses anything below 1 GiB. Here the size is
 * rounded up instead: a claim for 100Mi or 1.5Gi gets a quota of 1 or 2 GiB, never less than it
 * asked for, and no claim is left without a quota because it was small.
 *
 * @param path the directory, absolute inside the file system: {@code /<subdir>/<subPath>}
 * @param gibibytes the limit in GiB, at least 1
 */
public record DirectoryQuota(String path, long gibibytes) {

  public static final long GIB = 1L << 30;

  /** The volume context key that carries the requested size in bytes (CreateVolume's answer). */
  public static final String CAPACITY = "capacity";

  /**
   * The volume context key the Go driver sets when its controller sets the quota at provisioning:
   * the node then leaves it alone.
   */
  public static final String SET_BY_CONTROLLER = "juicefs/controller-quota-set";

  public DirectoryQuota {
    if (!path.startsWith("/")) {
      throw new IllegalArgumentException("a quota path is absolute in the file system: " + path);
    }
    if (gibibytes < 1) {
      throw new IllegalArgumentException("a quota is at least 1 GiB");
    }
  }

  /** {@code bytes} in whole GiB, rounded up; at least 1. */
  public static long gibibytesOf(long bytes) {
    if (bytes <= 0) {
      throw new IllegalArgumentException("a capacity must be positive");
    }
    return (bytes - 1) / GIB + 1;
  }

  /**
   * The quota of {@code bytes} on the directory a volume's targets see: the {@code subdir} mount
   * option (if any), then the volume's sub-path, as the Go driver joins them.
   */
  public static DirectoryQuota of(VolumeSettings volume, long bytes) {
    return new DirectoryQuota(pathOf(volume), gibibytesOf(bytes));
  }

  static String pathOf(VolumeSettings volume) {
    String subdir =
        volume.mountOptions().stream()
            .filter(o -> o.startsWith("subdir="))
            .map(o -> o.substring("subdir=".length()))
            .reduce((first, last) -> last)
            .orElse("");
    String joined = ("/" + subdir + "/" + volume.subPath()).replaceAll("/+", "/");
    return joined.length() > 1 && joined.endsWith("/")
        ? joined.substring(0, joined.length() - 1)
        : joined;
  }

  /**
   * The capacity a dynamic volume's context carries ({@code capacity}, bytes); empty for a static
   * volume, which has none, and for 0 (no size asked for). A value that is not a number is refused.
   */
  public static Optional<Long> requestedBytes(Map<String, String> context) {
    String raw = context.get(CAPACITY);
    if (raw == null || raw.isBlank()) {
      return Optional.empty();
    }
    long bytes;
    try {
      bytes = Long.parseLong(raw.trim());
    } catch (NumberFormatException e) {
      throw Failure.invalid(
          "volume context key 'capacity' must be a number of bytes, not '" + raw + "'");
    }
    if (bytes < 0) {
      throw Failure.invalid("volume context key 'capacity' must not be negative");
    }
    return bytes == 0 ? Optional.empty() : Optional.of(bytes);
  }

  /** Whether the volume's context says the controller has set its quota already. */
  public static boolean setByController(Map<String, String> context) {
    return "true".equals(context.get(SET_BY_CONTROLLER));
  }
}

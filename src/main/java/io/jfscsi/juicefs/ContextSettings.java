package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.math.BigDecimal;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * What a volume context (PV volumeAttributes, which carry the StorageClass parameters for dynamic
 * volumes) says, with the Go driver's key names. Context values are not secret (anyone who can read
 * the PV sees them), so messages may quote them.
 *
 * @param legacyMountOptions the old comma string {@code mountOptions}, if set
 * @param mountPodKeys the raw values of the {@link MountPodKeys} keys, for the settings hash (as in
 *     the Go driver, a different value makes a different client)
 */
record ContextSettings(
    String subPath,
    Duration deleteDelay,
    boolean cleanCache,
    ClientResources resources,
    Optional<String> mountImage,
    Optional<String> cachePvc,
    Optional<String> legacyMountOptions,
    Map<String, String> mountPodKeys) {

  static final String DELETE_DELAY = "juicefs/mount-delete-delay";
  static final String CLEAN_CACHE = "juicefs/clean-cache";
  static final String CPU_LIMIT = "juicefs/mount-cpu-limit";
  static final String CPU_REQUEST = "juicefs/mount-cpu-request";
  static final String MEMORY_LIMIT = "juicefs/mount-memory-limit";
  static final String MEMORY_REQUEST = "juicefs/mount-memory-request";
  static final String IMAGE = "juicefs/mount-image";
  static final String CACHE_PVC = "juicefs/mount-cache-pvc";

  /** Bounds far above any node, below what a cgroup file or a Pod spec can hold. */
  static final BigDecimal MAX_CPU_CORES = BigDecimal.valueOf(100_000);

  static final BigDecimal MAX_MEMORY_BYTES = BigDecimal.valueOf(1L << 60);

  /** Linux's bounds of one file name and of a path, in bytes. */
  static final int NAME_MAX = 255;

  static final int PATH_MAX = 4096;

  private static final Set<String> USED =
      Set.of(
          DELETE_DELAY,
          CLEAN_CACHE,
          CPU_LIMIT,
          CPU_REQUEST,
          MEMORY_LIMIT,
          MEMORY_REQUEST,
          IMAGE,
          CACHE_PVC,
          // Read by the node's quota step (DirectoryQuota), not by the client: never hashed.
          DirectoryQuota.SET_BY_CONTROLLER);

  /** The Go driver's keys that shape the Mount Pod beyond its command ({@link MountPodKeys}). */
  private static final Set<String> MOUNT_POD_KEYS = MountPodKeys.KEYS;

  static ContextSettings parse(Map<String, String> context) {
    Map<String, String> mountPodKeys = new TreeMap<>();
    for (Map.Entry<String, String> e : context.entrySet()) {
      if (MOUNT_POD_KEYS.contains(e.getKey())) {
        mountPodKeys.put(e.getKey(), e.getValue());
      }
    }
    MountPodKeys.parse(context); // checked here; the Mount Pod builder reads it again
    return new ContextSettings(
        subPath(context.get("subPath")),
        deleteDelay(context.get(DELETE_DELAY)),
        cleanCache(context.get(CLEAN_CACHE)),
        resources(context),
        text(context, IMAGE),
        cachePvc(context.get(CACHE_PVC)),
        Optional.ofNullable(context.get("mountOptions")).filter(s -> !s.isBlank()),
        Map.copyOf(mountPodKeys));
  }

  /**
   * What to say of the {@code juicefs/*} keys of {@code context} that no JuiceFS CSI driver knows,
   * or empty if there are none. They are ignored, as the Go driver ignores them, so that a manifest
   * written for it keeps working; but a misspelt key silently does nothing, so the node's log and
   * the doctor name them.
   */
  static Optional<String> unknownKeys(Map<String, String> context) {
    List<String> unknown =
        context.keySet().stream()
            .filter(k -> k.startsWith("juicefs/"))
            .filter(k -> !USED.contains(k) && !MOUNT_POD_KEYS.contains(k))
            .sorted()
            .toList();
    if (unknown.isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(
        "volume context key(s) "
            + String.join(", ", unknown.stream().map(Quoted::of).toList())
            + " are not keys of the JuiceFS CSI driver and are ignored; check their spelling"
            + " (known keys: "
            + String.join(
                ", ", Stream.concat(USED.stream(), MOUNT_POD_KEYS.stream()).sorted().toList())
            + ")");
  }

  /**
   * The sub-directory, relative to the file system root and normalized; a leading '/' is dropped
   * because the Go driver joins it onto the mount point, where it means the same.
   */
  static String subPath(String raw) {
    if (raw == null) {
      return "";
    }
    if (raw.indexOf('\0') >= 0) {
      throw Failure.invalid(
          "volume context key 'subPath' contains a NUL character; use a plain"
              + " relative directory path");
    }
    List<String> parts = new ArrayList<>();
    for (String part : raw.split("/")) {
      if (part.equals("..")) {
        throw Failure.invalid(
            "volume context key 'subPath' must not contain '..': a volume may"
                + " only see directories below the file system root");
      }
      if (part.getBytes(StandardCharsets.UTF_8).length > NAME_MAX) {
        throw Failure.invalid(
            "volume context key 'subPath' has the element "
                + Quoted.of(part)
                + ", longer than a file name can be ("
                + NAME_MAX
                + " bytes)");
      }
      if (!part.isEmpty() && !part.equals(".")) {
        parts.add(part);
      }
    }
    String path = String.join("/", parts);
    if (path.getBytes(StandardCharsets.UTF_8).length > PATH_MAX) {
      throw Failure.invalid(
          "volume context key 'subPath' is longer than a path can be (" + PATH_MAX + " bytes)");
    }
    return path;
  }

  private static Duration deleteDelay(String raw) {
    if (raw == null || raw.isBlank()) {
      return Duration.ZERO;
    }
    String value = raw.strip();
    GoDuration.Result parsed = GoDuration.parse(value);
    Duration delay =
        parsed
            .duration()
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "volume context key '"
                            + DELETE_DELAY
                            + "' value "
                            + Quoted.of(value)
                            + " is not a Go duration: it "
                            + parsed.problem()
                            + "; write a number with a unit, e.g. 30s, 1m30s, 1h or 500ms"));
    if (delay.isNegative()) {
      throw Failure.invalid(
          "volume context key '"
              + DELETE_DELAY
              + "' must not be negative;"
              + " use 0 for no delay, or a delay such as 30s, 1m30s or 1h");
    }
    if (delay.compareTo(VolumeSettings.MAX_DELETE_DELAY) > 0) {
      throw Failure.invalid(
          "volume context key '"
              + DELETE_DELAY
              + "' value "
              + Quoted.of(value)
              + " is longer than the longest delay, "
              + VolumeSettings.MAX_DELETE_DELAY.toHours()
              + "h (365 days)");
    }
    return delay;
  }

  private static boolean cleanCache(String raw) {
    if (raw == null || raw.isBlank()) {
      return false;
    }
    return switch (raw.strip().toLowerCase(Locale.ROOT)) {
      case "true" -> true;
      case "false" -> false;
      default ->
          throw Failure.invalid(
              "volume context key '" + CLEAN_CACHE + "' must be \"true\"" + " or \"false\"");
    };
  }

  private static ClientResources resources(Map<String, String> context) {
    Optional<Long> cpuLimit = quantity(context, CPU_LIMIT).map(Quantity::millicores);
    Optional<Long> cpuRequest = quantity(context, CPU_REQUEST).map(Quantity::millicores);
    Optional<Long> memLimit = quantity(context, MEMORY_LIMIT).map(Quantity::bytes);
    Optional<Long> memRequest = quantity(context, MEMORY_REQUEST).map(Quantity::bytes);
    requestWithinLimit(cpuRequest, cpuLimit, CPU_REQUEST, CPU_LIMIT);
    requestWithinLimit(memRequest, memLimit, MEMORY_REQUEST, MEMORY_LIMIT);
    return new ClientResources(cpuRequest, cpuLimit, memRequest, memLimit);
  }

  private static Optional<BigDecimal> quantity(Map<String, String> context, String key) {
    String raw = context.get(key);
    if (raw == null || raw.isBlank()) {
      return Optional.empty();
    }
    String value = raw.strip();
    BigDecimal parsed =
        Quantity.value(value)
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "volume context"
                            + " key '"
                            + key
                            + "' value "
                            + Quoted.of(value)
                            + " is not a Kubernetes quantity; write e.g. 500m"
                            + " or 2 for CPU, 512Mi or 1Gi for memory"));
    boolean cpu = key.contains("cpu");
    BigDecimal most = cpu ? MAX_CPU_CORES : MAX_MEMORY_BYTES;
    if (parsed.compareTo(most) > 0) {
      throw Failure.invalid(
          "volume context key '"
              + key
              + "' value "
              + Quoted.of(value)
              + " is too large; at most "
              + (cpu ? most.toPlainString() + " (cores)" : "1Ei (bytes)")
              + " is accepted");
    }
    return Optional.of(parsed);
  }

  private static void requestWithinLimit(
      Optional<Long> request, Optional<Long> limit, String requestKey, String limitKey) {
    // A limit of 0 is "no limit" (see ClientResources).
    if (request.isPresent()
        && limit.isPresent()
        && limit.get() > 0
        && request.get() > limit.get()) {
      throw Failure.invalid(
          "volume context key '"
              + requestKey
              + "' is above '"
              + limitKey
              + "'; Kubernetes refuses a request larger than its limit: lower the request or raise"
              + " the limit");
    }
  }

  private static Optional<String> text(Map<String, String> context, String key) {
    String raw = context.get(key);
    if (raw == null || raw.isBlank()) {
      return Optional.empty();
    }
    String value = raw.strip();
    if (value.chars().anyMatch(c -> Character.isWhitespace(c) || Character.isISOControl(c))) {
      throw Failure.invalid("volume context key '" + key + "' must not contain whitespace");
    }
    return Optional.of(value);
  }

  private static Optional<String> cachePvc(String raw) {
    if (raw == null || raw.isBlank()) {
      return Optional.empty();
    }
    List<String> names = new ArrayList<>();
    for (String part : raw.split(",")) {
      String name = part.strip();
      if (name.isEmpty() || names.contains(name)) {
        continue;
      }
      if (name.length() > 253 || !SecretSettings.DNS_SUBDOMAIN.matcher(name).matches()) {
        throw Failure.invalid(
            "volume context key '"
                + CACHE_PVC
                + "' has "
                + Quoted.of(name)
                + ", which"
                + " is not a PVC name; list PVC names of the Mount Pod's namespace, separated by"
                + " commas");
      }
      names.add(name);
    }
    return names.isEmpty() ? Optional.empty() : Optional.of(String.join(",", names));
  }
}

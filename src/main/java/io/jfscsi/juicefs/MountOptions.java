package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Validated JuiceFS mount options, from the CSI mount flags (a PV's or StorageClass's {@code
 * mountOptions}; each flag may itself be a comma list) followed by the legacy volume context key
 * {@code mountOptions}, the order in which the Go driver merges them.
 *
 * @param options canonical {@code name} or {@code name=value} strings, in the order first given,
 *     each name once; aliases are replaced by the flag name {@code juicefs} uses
 * @param cacheDirs the local cache directories: those of {@code cache-dir}, or {@code
 *     /var/jfsCache} (the client's default when run as root) when it is absent; empty for {@code
 *     cache-dir=memory}
 */
record MountOptions(List<String> options, List<Path> cacheDirs) {

  static final Path DEFAULT_CACHE_DIR = Path.of("/var/jfsCache");

  MountOptions {
    options = List.copyOf(options);
    cacheDirs = List.copyOf(cacheDirs);
  }

  /** The value of option {@code name} ("" for a flag that is on), if given. */
  Optional<String> value(String name) {
    for (String option : options) {
      int eq = option.indexOf('=');
      String key = eq < 0 ? option : option.substring(0, eq);
      if (key.equals(name)) {
        return Optional.of(eq < 0 ? "" : option.substring(eq + 1));
      }
    }
    return Optional.empty();
  }

  /**
   * These options with {@code buffer-size} lowered to {@code limitBytes} when it is larger, as the
   * Go driver does, so that the client's read/write buffers cannot by themselves exceed the memory
   * limit and get it OOM-killed.
   */
  MountOptions withBufferSizeAtMost(long limitBytes) {
    Optional<String> given = value("buffer-size");
    if (given.isEmpty() || bytes(given.get()).compareTo(BigDecimal.valueOf(limitBytes)) <= 0) {
      return this;
    }
    String lowered = "buffer-size=" + (limitBytes >> 20); // in MiB, the option's default unit
    return new MountOptions(
        options.stream().map(o -> o.startsWith("buffer-size=") ? lowered : o).toList(), cacheDirs);
  }

  /**
   * A JuiceFS size option in bytes: a number in MiB unless it has a unit (K..E, powers of 1024).
   */
  static BigDecimal bytes(String size) {
    String unit = size.replaceAll("^[0-9.]+", "");
    BigDecimal number = new BigDecimal(size.substring(0, size.length() - unit.length()));
    int power =
        switch (unit.isEmpty() ? 'M' : Character.toUpperCase(unit.charAt(0))) {
          case 'B' -> 0;
          case 'K' -> 1;
          case 'M' -> 2;
          case 'G' -> 3;
          case 'T' -> 4;
          case 'P' -> 5;
          case 'E' -> 6;
          default -> throw new IllegalArgumentException("not a size option value");
        };
    return number.multiply(BigDecimal.valueOf(1024).pow(power));
  }

  static MountOptions parse(List<String> mountFlags, String legacyContextOptions) {
    Map<String, String> byName = new LinkedHashMap<>();
    for (String flag : mountFlags) {
      addAll(byName, flag, "in the PV or StorageClass mountOptions");
    }
    if (legacyContextOptions != null) {
      addAll(byName, legacyContextOptions, "in volume context key 'mountOptions'");
    }
    return of(byName);
  }

  /**
   * These options with {@code flags} over them by name, as the Go driver applies the ConfigMap's
   * {@code mountOptions}: an option named in both takes the value of {@code flags}.
   */
  MountOptions overriddenBy(List<String> flags, String where) {
    Map<String, String> byName = new LinkedHashMap<>();
    for (String option : options) {
      int eq = option.indexOf('=');
      byName.put(eq < 0 ? option : option.substring(0, eq), eq < 0 ? "" : option.substring(eq + 1));
    }
    Map<String, String> over = new LinkedHashMap<>();
    for (String flag : flags) {
      addAll(over, flag, where);
    }
    byName.putAll(over);
    return of(byName);
  }

  private static MountOptions of(Map<String, String> byName) {
    boolean readOnly = isOn(byName, "ro") || isOn(byName, "read-only");
    if (readOnly && isOn(byName, "rw")) {
      throw Failure.invalid(
          "mount options 'ro' (or 'read-only') and 'rw' contradict each other;"
              + " keep one. A read-only volume is better requested with readOnly in the pod's volume.");
    }
    List<String> options = new ArrayList<>();
    byName.forEach((name, value) -> options.add(value.isEmpty() ? name : name + "=" + value));
    String cacheDir = byName.get("cache-dir");
    List<Path> cacheDirs = cacheDir == null ? List.of(DEFAULT_CACHE_DIR) : cacheDirs(cacheDir);
    return new MountOptions(options, cacheDirs);
  }

  private static boolean isOn(Map<String, String> byName, String name) {
    return "".equals(byName.get(name));
  }

  private static void addAll(Map<String, String> byName, String commaList, String where) {
    OptionItems.forEach(commaList, (name, value) -> add(byName, name, value, where));
  }

  private static void add(Map<String, String> byName, String name, String value, String where) {
    if (name.isEmpty()) {
      throw Failure.invalid(
          "a mount option "
              + where
              + " has a value but no name; write"
              + " options as name or name=value, separated by commas");
    }
    if (MountOptionCatalog.SYSTEM_NO_OPS.contains(name)) {
      return;
    }
    OptionSpec spec =
        MountOptionCatalog.find(name)
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "mount option "
                            + Quoted.of(name)
                            + " "
                            + where
                            + " is not a JuiceFS Community Edition mount"
                            + " option; check its spelling against 'juicefs mount --help' (options are written"
                            + " without the leading --, e.g. cache-size=1024)"));
    String shown =
        name.equals(spec.name()) ? Quoted.of(name) : Quoted.of(name) + " (" + spec.name() + ")";
    String normalized =
        spec.normalize(value)
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "mount option " + shown + " " + where + " " + spec.problem(value)));
    if (!spec.refusal().isEmpty() && !normalized.equals("false")) {
      throw Failure.invalid("mount option " + shown + " " + where + " " + spec.refusal());
    }
    String earlier = byName.putIfAbsent(spec.name(), normalized);
    if (earlier != null && !earlier.equals(normalized)) {
      throw Failure.invalid(
          "mount option "
              + shown
              + " is given twice with different values"
              + " (the second time "
              + where
              + "); keep one");
    }
  }

  private static List<Path> cacheDirs(String value) {
    List<Path> dirs = new ArrayList<>();
    for (String dir : value.split(":")) {
      if (dir.isEmpty() || dir.equals("memory")) {
        continue; // "memory" keeps the cache in RAM: no directory to create or clean
      }
      if (!dir.startsWith("/")) {
        throw Failure.invalid(
            "mount option 'cache-dir' must list absolute directories separated"
                + " by ':', e.g. cache-dir=/data1/jfsCache:/data2/jfsCache");
      }
      if (dir.contains("*") || dir.contains("?") || dir.contains("[")) {
        throw Failure.invalid(
            "mount option 'cache-dir' has a wildcard, which the driver cannot"
                + " turn into host directories; list each directory, separated by ':'");
      }
      for (String part : dir.split("/")) {
        if (part.equals("..")) {
          throw Failure.invalid(
              "mount option 'cache-dir' must not contain '..'; write each"
                  + " directory as a plain absolute path");
        }
      }
      Path path = Path.of(dir).normalize();
      if (!dirs.contains(path)) {
        dirs.add(path);
      }
    }
    return dirs;
  }
}

package io.jfscsi.runtime.local;

import com.typesafe.config.Config;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;

/**
 * Configuration of {@link LocalProcessRuntime}.
 *
 * @param mountRoot where each client's file system is mounted, one directory per client key
 * @param stateDir records ({@code clients/}), client logs ({@code logs/}) and stop markers
 * @param bindfsBinary the FUSE passthrough that serves local-directory volumes
 * @param juicefsBinary the real JuiceFS client; it may not exist, then only local volumes work
 * @param readyTimeout how long a new client may take until its mount point answers
 * @param stopGrace how long a client may take to exit after SIGTERM before SIGKILL
 * @param commandTimeout how long a one-shot command ({@code juicefs format}, {@code status}) may
 *     run
 * @param localRoots the directories beneath which a {@code local://} metaurl may name a directory
 *     to serve (the embedded default); anything else is refused
 * @param kubeletRoot never served, nor what holds it or lies in it, whatever the roots allow (so
 *     for the mount root; the state directory is never served nor held); null when unknown
 */
public record LocalRuntimeConfig(
    Path mountRoot,
    Path stateDir,
    Path bindfsBinary,
    Path juicefsBinary,
    Duration readyTimeout,
    Duration stopGrace,
    Duration commandTimeout,
    List<Path> localRoots,
    Path kubeletRoot) {

  /** The default of {@code jfs-csi.local.allowed-roots}. */
  public static final Path DEFAULT_LOCAL_ROOT = Path.of("/var/lib/jfs-csi/local");

  public LocalRuntimeConfig(
      Path mountRoot,
      Path stateDir,
      Path bindfsBinary,
      Path juicefsBinary,
      Duration readyTimeout,
      Duration stopGrace,
      Duration commandTimeout) {
    this(
        mountRoot,
        stateDir,
        bindfsBinary,
        juicefsBinary,
        readyTimeout,
        stopGrace,
        commandTimeout,
        List.of(DEFAULT_LOCAL_ROOT),
        null);
  }

  /** The driver's own directories, which no local:// volume may be or hold (see kubeletRoot). */
  public List<Path> neverServed() {
    return kubeletRoot == null
        ? List.of(mountRoot, stateDir)
        : List.of(mountRoot, stateDir, kubeletRoot.toAbsolutePath().normalize());
  }

  public LocalRuntimeConfig {
    Objects.requireNonNull(mountRoot, "mountRoot");
    Objects.requireNonNull(stateDir, "stateDir");
    Objects.requireNonNull(bindfsBinary, "bindfsBinary");
    Objects.requireNonNull(juicefsBinary, "juicefsBinary");
    requirePositive(readyTimeout, "readyTimeout");
    requirePositive(stopGrace, "stopGrace");
    requirePositive(commandTimeout, "commandTimeout");
    localRoots =
        localRoots.stream()
            .map(
                p -> {
                  if (!p.isAbsolute()) {
                    throw new IllegalArgumentException(
                        "local.allowed-roots: " + p + " is not absolute");
                  }
                  return p.normalize();
                })
            .toList();
    // Mount paths are compared with /proc/self/mountinfo, which only holds absolute paths.
    mountRoot = mountRoot.toAbsolutePath().normalize();
    stateDir = stateDir.toAbsolutePath().normalize();
  }

  /** The driver's defaults; the JuiceFS client is looked up on PATH. */
  public static LocalRuntimeConfig defaults() {
    return new LocalRuntimeConfig(
        Path.of("/var/lib/juicefs/volume"),
        Path.of("/var/lib/jfs-csi"),
        onPath("bindfs", Path.of("/usr/bin/bindfs")),
        onPath("juicefs", Path.of("/usr/local/bin/juicefs")),
        Duration.ofSeconds(60),
        Duration.ofSeconds(10),
        Duration.ofMinutes(2));
  }

  /** From the {@code jfs-csi} HOCON section; a binary given without a '/' is looked up on PATH. */
  public static LocalRuntimeConfig from(Config c) {
    return new LocalRuntimeConfig(
        Path.of(c.getString("mount-root")),
        Path.of(c.getString("state-dir")),
        binary(c.getString("client.bindfs-binary"), Path.of("/usr/bin/bindfs")),
        binary(c.getString("client.juicefs-binary"), Path.of("/usr/local/bin/juicefs")),
        c.getDuration("client.ready-timeout"),
        c.getDuration("client.stop-grace"),
        c.getDuration("client.command-timeout"),
        c.getStringList("local.allowed-roots").stream().map(Path::of).toList(),
        Path.of(c.getString("kubelet-root")));
  }

  private static Path binary(String name, Path fallback) {
    return name.contains("/") ? Path.of(name) : onPath(name, fallback);
  }

  /**
   * The defaults with mount root and state directory under {@code base} (tests, dev runs), which
   * serve local directories beneath the system's temporary directory.
   */
  public static LocalRuntimeConfig under(Path base) {
    LocalRuntimeConfig d = defaults();
    return new LocalRuntimeConfig(
        base.resolve("volume"),
        base.resolve("state"),
        d.bindfsBinary(),
        d.juicefsBinary(),
        d.readyTimeout(),
        d.stopGrace(),
        d.commandTimeout(),
        List.of(Path.of(System.getProperty("java.io.tmpdir")).toAbsolutePath()),
        null);
  }

  public LocalRuntimeConfig withLocalRoots(List<Path> roots) {
    return new LocalRuntimeConfig(
        mountRoot,
        stateDir,
        bindfsBinary,
        juicefsBinary,
        readyTimeout,
        stopGrace,
        commandTimeout,
        roots,
        kubeletRoot);
  }

  public LocalRuntimeConfig withJuicefsBinary(Path binary) {
    return new LocalRuntimeConfig(
        mountRoot,
        stateDir,
        bindfsBinary,
        binary,
        readyTimeout,
        stopGrace,
        commandTimeout,
        localRoots,
        kubeletRoot);
  }

  public LocalRuntimeConfig withBindfsBinary(Path binary) {
    return new LocalRuntimeConfig(
        mountRoot,
        stateDir,
        binary,
        juicefsBinary,
        readyTimeout,
        stopGrace,
        commandTimeout,
        localRoots,
        kubeletRoot);
  }

  public LocalRuntimeConfig withTimeouts(Duration ready, Duration grace, Duration command) {
    return new LocalRuntimeConfig(
        mountRoot,
        stateDir,
        bindfsBinary,
        juicefsBinary,
        ready,
        grace,
        command,
        localRoots,
        kubeletRoot);
  }

  private static Path onPath(String name, Path fallback) {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        if (!dir.isEmpty()) {
          Path candidate = Path.of(dir, name);
          if (Files.isExecutable(candidate)) {
            return candidate;
          }
        }
      }
    }
    return fallback;
  }

  private static void requirePositive(Duration d, String name) {
    Objects.requireNonNull(d, name);
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException(name + " must be positive");
    }
  }
}

package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.OptionSpec.Kind.DECIMAL;
import static io.jfscsi.juicefs.OptionSpec.Kind.FLAG;
import static io.jfscsi.juicefs.OptionSpec.Kind.OCTAL;
import static io.jfscsi.juicefs.OptionSpec.Kind.PATHS;
import static io.jfscsi.juicefs.OptionSpec.Kind.SECONDS;
import static io.jfscsi.juicefs.OptionSpec.Kind.SIZE;
import static io.jfscsi.juicefs.OptionSpec.Kind.TEXT;
import static io.jfscsi.juicefs.OptionSpec.Kind.WHOLE;
import static io.jfscsi.juicefs.OptionSpec.choice;
import static io.jfscsi.juicefs.OptionSpec.flag;
import static io.jfscsi.juicefs.OptionSpec.fuse;
import static io.jfscsi.juicefs.OptionSpec.of;
import static io.jfscsi.juicefs.OptionSpec.refused;

import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The options of JuiceFS Community Edition's {@code juicefs mount} (1.1 to 1.3, from its command
 * reference and flag definitions), plus the FUSE options it passes to the kernel, as users write
 * them in a PV's {@code mountOptions}.
 */
final class MountOptionCatalog {
  private MountOptionCatalog() {}

  static final String WRITEBACK_REFUSAL =
      "is refused: with writeback the JuiceFS client acknowledges writes as soon as they are in"
          + " its local staging directory, before they reach object storage, and under CSI the client"
          + " (the Mount Pod or client process) can be deleted or restarted at any time (upgrade,"
          + " eviction, OOM kill, node drain), losing the data still staged. Remove it; for fast"
          + " reads and writes use a persistent cache (cache-dir on a local disk, cache-size) without"
          + " writeback, and juicefs/mount-delete-delay to keep the client running between pods.";

  private static final String FOREGROUND_REFUSAL =
      "is refused: the driver runs the JuiceFS client in the foreground and supervises it, and a"
          + " client that daemonizes would escape that supervision. Remove it.";

  private static final String FSTAB_REFUSAL =
      "is refused: it edits /etc/fstab on the node, which a CSI driver must not do. Remove it.";

  private static final Map<String, OptionSpec> OPTIONS =
      Stream.of(
              // juicefs mount itself
              refused("background", FLAG, FOREGROUND_REFUSAL),
              refused("update-fstab", FLAG, FSTAB_REFUSAL),
              flag("no-syslog"),
              of("log", TEXT),
              flag("force"),
              of("access-log", TEXT),
              flag("check-storage"),
              // global options, accepted after the subcommand too
              flag("debug"),
              flag("quiet"),
              flag("trace"),
              flag("no-agent"),
              flag("no-color"),
              of("pyroscope", TEXT),
              of("log-id", TEXT),
              // FUSE-related flags
              flag("enable-xattr"),
              flag("enable-cap"),
              flag("enable-selinux"),
              flag("enable-ioctl"),
              of("root-squash", TEXT),
              of("all-squash", TEXT),
              flag("prefix-internal"),
              flag("hide-internal"),
              flag("non-default-permission"),
              // metadata
              of("subdir", TEXT),
              of("backup-meta", SECONDS),
              flag("backup-skip-trash"),
              of("heartbeat", SECONDS),
              flag("read-only"),
              flag("no-bgjob"),
              choice("atime-mode", "noatime", "relatime", "strictatime"),
              of("skip-dir-nlink", WHOLE),
              of("skip-dir-mtime", SECONDS),
              flag("sort-dir"),
              flag("fast-statfs"),
              of("network-interfaces", TEXT),
              // metadata cache
              of("attr-cache", SECONDS),
              of("entry-cache", SECONDS),
              of("dir-entry-cache", SECONDS),
              of("open-cache", SECONDS),
              of("open-cache-limit", WHOLE),
              flag("readdir-cache"),
              of("negative-dir-entry-cache", SECONDS),
              // data storage
              of("storage", TEXT),
              of("bucket", TEXT),
              of("storage-class", TEXT),
              of("get-timeout", SECONDS),
              of("put-timeout", SECONDS),
              of("io-retries", WHOLE),
              of("max-uploads", WHOLE),
              of("max-downloads", WHOLE),
              of("max-stage-write", WHOLE),
              of("max-deletes", WHOLE),
              of("upload-limit", SIZE),
              of("download-limit", SIZE),
              // data cache
              of("buffer-size", SIZE),
              of("prefetch", WHOLE),
              refused("writeback", FLAG, WRITEBACK_REFUSAL),
              of("writeback-threshold-size", SIZE),
              of("upload-delay", SECONDS),
              of("cache-dir", PATHS),
              of("cache-mode", OCTAL),
              of("cache-size", SIZE),
              of("cache-items", WHOLE),
              of("free-space-ratio", DECIMAL),
              flag("cache-partial-only"),
              flag("cache-large-write"),
              choice("verify-cache-checksum", "none", "full", "shrink", "extend"),
              choice("cache-eviction", "none", "2-random"),
              of("cache-scan-interval", SECONDS),
              of("cache-expire", SECONDS),
              of("max-readahead", SIZE),
              // metrics
              of("metrics", TEXT),
              of("custom-labels", TEXT),
              of("consul", TEXT),
              flag("no-usage-report"),
              // FUSE options, passed to the kernel through -o
              fuse("allow_other", FLAG),
              fuse("allow_root", FLAG),
              fuse("default_permissions", FLAG),
              fuse("writeback_cache", FLAG),
              fuse("nonempty", FLAG),
              fuse("ro", FLAG),
              fuse("rw", FLAG),
              fuse("user_id", WHOLE),
              fuse("group_id", WHOLE),
              fuse("max_read", WHOLE),
              fuse("fsname", TEXT))
          .collect(Collectors.toUnmodifiableMap(OptionSpec::name, Function.identity()));

  /**
   * Other spellings JuiceFS accepts for the same option: flag aliases of {@code juicefs} and the
   * option names {@code mount.juicefs} translates.
   */
  private static final Map<String, String> ALIASES =
      Map.of(
          "d", "background",
          "verbose", "debug",
          "v", "debug",
          "q", "quiet",
          "attrcacheto", "attr-cache",
          "entrycacheto", "entry-cache",
          "direntrycacheto", "dir-entry-cache");

  /** Options that {@code mount(8)} adds for every file system and that mean nothing here. */
  static final Set<String> SYSTEM_NO_OPS = Set.of("_netdev", "defaults");

  static Optional<OptionSpec> find(String name) {
    return Optional.ofNullable(OPTIONS.get(ALIASES.getOrDefault(name, name)));
  }
}

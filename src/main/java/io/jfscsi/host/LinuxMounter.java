package io.jfscsi.host;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;

/**
 * The {@link Mounter} that changes this host's mount table through mount(2) and umount2(2), called
 * in-process via FFM (no fork per operation). Needs CAP_SYS_ADMIN. Calls that a hung FUSE client
 * can block (stat, statvfs, realpath) run under a deadline; mount changes do not need to, because
 * the kernel resolves their targets without asking the file system.
 */
public final class LinuxMounter implements Mounter {
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(5);

  /**
   * Bounds the unmount loop so a target that keeps being re-mounted cannot spin us forever. Each
   * recovery of a client leaves its dead bind beneath the fresh one (see Targets#rebind), so a
   * target may hold one layer per crash of its client.
   */
  static final int MAX_LAYERS = 256;

  private final TimedCalls timed;

  public LinuxMounter() {
    this(DEFAULT_TIMEOUT);
  }

  /** {@code timeout} bounds each stat or statvfs; a probe that exceeds it reports STALE. */
  public LinuxMounter(Duration timeout) {
    this.timed = new TimedCalls(timeout);
  }

  @Override
  public void bind(Path source, Path target, boolean readOnly) throws MountException {
    int err = Libc.mount(source, target, Libc.MS_BIND);
    if (err != 0) {
      throw failure("bind " + source + " onto " + target, err);
    }
    if (!readOnly) {
      return;
    }
    // A bind remount sets the per-mount flags to exactly those given, so keep nosuid/nodev/noexec.
    long keep = entryAt(target).map(e -> perMountFlags(e.options())).orElse(0L);
    err = Libc.mount(null, target, Libc.MS_BIND | Libc.MS_REMOUNT | Libc.MS_RDONLY | keep);
    if (err != 0) {
      int undo = Libc.umount2(target, 0);
      if (undo == Libc.EBUSY) {
        undo = Libc.umount2(target, Libc.MNT_DETACH);
      }
      String outcome =
          undo == 0
              ? "; the writable bind was undone"
              : "; undoing the writable bind failed too: " + describe(undo);
      throw new MountException(
          "remount read-only of bind "
              + source
              + " onto "
              + target
              + ": "
              + describe(err)
              + outcome,
          err);
    }
  }

  /**
   * Read-write: mount(2) MS_BIND from the resolved source's /proc/self/fd link onto the resolved
   * target's, as kubelet binds a subPath: the kernel follows each link to the very directory
   * opened, and the bind is made (and propagates) exactly as a bind by path would. Read-only:
   * open_tree(2) clones the source, mount_setattr(2) makes the clone read-only before anyone can
   * see it, and move_mount(2) attaches it onto the target's descriptor.
   */
  @Override
  public void bind(PathBeneath source, PathBeneath target, boolean readOnly, boolean createSource)
      throws MountException {
    try (Beneath.Dir from = Beneath.open(source, createSource);
        Beneath.Dir onto = Beneath.open(target, false)) {
      if (!readOnly) {
        int err = Libc.mount(from.procPath(), onto.procPath(), Libc.MS_BIND);
        if (err != 0) {
          throw failure("bind " + source + " onto " + target, err);
        }
        return;
      }
      int tree = Libc.openTreeClone(from.fd());
      if (tree < 0) {
        throw failure("clone " + source + " for a bind", -tree);
      }
      try {
        if (readOnly) {
          int err = Libc.mountSetattr(tree, Libc.MOUNT_ATTR_RDONLY);
          if (err != 0) {
            throw failure("make the bind of " + source + " read-only", err);
          }
        }
        int err = Libc.moveMount(tree, onto.fd());
        if (err != 0) {
          throw failure("bind " + source + " onto " + target, err);
        }
      } finally {
        Libc.close(tree); // once attached the mount stays; a clone never attached is dissolved
      }
    }
  }

  @Override
  public boolean createTarget(PathBeneath target) throws MountException {
    return Beneath.mkdir(target, 0777);
  }

  @Override
  public void unmount(Path target) throws MountException {
    for (int layer = 0; layer < MAX_LAYERS; layer++) {
      int err = Libc.umount2(target, 0);
      if (err == Libc.EBUSY) {
        // Something still uses it (an open file, a cwd); detach now, the kernel frees it later.
        err = Libc.umount2(target, Libc.MNT_DETACH);
      }
      if (err == Libc.EINVAL || err == Libc.ENOENT) {
        return;
      }
      if (err != 0) {
        throw failure("unmount " + target, err);
      }
    }
    if (isMountPoint(target)) {
      throw new MountException(
          target + " is still a mount point after " + MAX_LAYERS + " unmounts", Libc.EBUSY);
    }
  }

  @Override
  public MountState probe(Path path) {
    Path abs = path.toAbsolutePath().normalize();
    Optional<MountRoot> root = timed.call("statx " + abs, () -> MountRoot.of(abs));
    if (root.isEmpty()) {
      return MountState.STALE;
    }
    int rootErr = root.get().errno();
    if (rootErr == Libc.ENOTCONN || rootErr == Libc.EIO || rootErr == Libc.ECONNABORTED) {
      return MountState.STALE;
    }
    if (rootErr == 0 && root.get().known()) {
      // The common case, in one system call: no mount table to read and parse.
      return root.get().mountRoot() ? answering(abs) : MountState.NOT_MOUNTED;
    }
    if (rootErr == Libc.ENOENT && !listedInParent(abs)) {
      // Nothing there, not even a mount point with a broken root (its name would be listed).
      // Every publish probes a target that does not exist yet: this spares it the mount table.
      return MountState.MISSING;
    }
    Optional<Lookup> found = timed.call("stat " + abs, () -> Lookup.of(abs));
    if (found.isEmpty()) {
      return MountState.STALE;
    }
    Lookup lookup = found.get();
    int err = lookup.errno();
    if (err == Libc.ENOTCONN || err == Libc.EIO || err == Libc.ECONNABORTED) {
      return MountState.STALE;
    }
    boolean mountPoint = MountInfo.topMostAt(mounts(), lookup.canonical()).isPresent();
    if (err == 0) {
      return mountPoint ? answering(lookup.canonical()) : MountState.NOT_MOUNTED;
    }
    // A mount point that cannot be stat'ed (e.g. ENOENT from a FUSE root deleted on the backend)
    // serves nothing and must be unmounted before anything can be bound there again.
    if (mountPoint) {
      return MountState.STALE;
    }
    return err == Libc.ENOENT || err == Libc.ENOTDIR ? MountState.MISSING : MountState.NOT_MOUNTED;
  }

  /**
   * stat of a FUSE mount root is served from the kernel's attribute cache for a while after its
   * client died; statfs always goes to the client, so it tells a dead or hung one at once.
   */
  private MountState answering(Path mountPoint) {
    Optional<Statvfs> found = timed.call("statvfs " + mountPoint, () -> Statvfs.of(mountPoint));
    if (found.isEmpty()) {
      return MountState.STALE;
    }
    int err = found.get().errno();
    return err == Libc.ENOTCONN || err == Libc.EIO || err == Libc.ECONNABORTED
        ? MountState.STALE
        : MountState.MOUNTED;
  }

  @Override
  public FsStats stats(Path path) throws MountException {
    Path abs = path.toAbsolutePath().normalize();
    Optional<Statvfs> found = timed.call("statvfs " + abs, () -> Statvfs.of(abs));
    if (found.isEmpty()) {
      throw new MountException(
          "statvfs "
              + abs
              + ": no answer within "
              + timed.timeout()
              + " (hung file system client?)",
          Libc.ETIMEDOUT);
    }
    Statvfs result = found.get();
    if (result.errno() != 0) {
      throw failure("statvfs " + abs, result.errno());
    }
    return result.stats();
  }

  @Override
  public List<MountEntry> mounts() {
    return MountInfo.self();
  }

  /** statx's mount-root bit where the kernel has it (5.8+), else the mount table. */
  @Override
  public boolean isMountPoint(Path path) {
    Path abs = path.toAbsolutePath().normalize();
    Optional<MountRoot> root = timed.call("statx " + abs, () -> MountRoot.of(abs));
    if (root.isPresent() && root.get().errno() == 0 && root.get().known()) {
      return root.get().mountRoot();
    }
    return entryAt(path).isPresent(); // a dead mount cannot be stat'ed: ask the mount table
  }

  /** Resolves symlinks first (under the deadline) because mountinfo lists resolved paths. */
  @Override
  public Optional<MountEntry> entryAt(Path path) {
    Path abs = path.toAbsolutePath().normalize();
    Path canonical = timed.call("realpath " + abs, () -> HostPaths.canonical(abs)).orElse(abs);
    return MountInfo.topMostAt(mounts(), canonical);
  }

  /**
   * The nosuid, nodev and noexec flags among mountinfo's per-mount {@code options}: the ones a bind
   * remount would silently clear if not passed again. Atime flags are left out because the kernel
   * preserves them on remount when none is given.
   */
  static long perMountFlags(String options) {
    long flags = 0;
    for (String o : options.split(",")) {
      switch (o) {
        case "nosuid" -> flags |= Libc.MS_NOSUID;
        case "nodev" -> flags |= Libc.MS_NODEV;
        case "noexec" -> flags |= Libc.MS_NOEXEC;
        default -> {}
      }
    }
    return flags;
  }

  private static MountException failure(String what, int errno) {
    return new MountException(what + ": " + describe(errno), errno);
  }

  private static String describe(int errno) {
    return Libc.strerror(errno) + " (errno " + errno + ")";
  }

  /**
   * Whether the parent directory lists the path's name: a mount point whose root is broken fails
   * stat with ENOENT too, but its name is still listed.
   */
  private boolean listedInParent(Path abs) {
    Path parent = abs.getParent();
    if (parent == null) {
      return true;
    }
    String name = abs.getFileName().toString();
    return timed
        .call(
            "list " + parent,
            () -> {
              try (var names = Files.list(parent)) {
                return names.anyMatch(p -> p.getFileName().toString().equals(name));
              } catch (IOException e) {
                return true; // cannot tell: let the mount table decide
              }
            })
        .orElse(true);
  }

  /** Whether statx says the path is a mount root; {@code known} is false on kernels before 5.8. */
  private record MountRoot(int errno, boolean known, boolean mountRoot) {
    static MountRoot of(Path abs) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment buf = arena.allocate(Libc.STATX_SIZE);
        int errno = Libc.statx(abs, buf);
        if (errno != 0) {
          return new MountRoot(errno, false, false);
        }
        long mask = buf.get(JAVA_LONG, Libc.STX_ATTRIBUTES_MASK);
        long attributes = buf.get(JAVA_LONG, Libc.STX_ATTRIBUTES);
        return new MountRoot(
            0,
            (mask & Libc.STATX_ATTR_MOUNT_ROOT) != 0,
            (attributes & Libc.STATX_ATTR_MOUNT_ROOT) != 0);
      }
    }
  }

  /** What stat(2) said about a path, and the spelling mountinfo would use for it. */
  private record Lookup(int errno, Path canonical) {
    static Lookup of(Path abs) {
      int errno;
      try (Arena arena = Arena.ofConfined()) {
        errno = Libc.stat(abs, arena.allocate(Libc.STAT_SIZE));
      }
      return new Lookup(errno, HostPaths.canonical(abs));
    }
  }

  /** statvfs(3) figures copied out of native memory, or the errno. */
  private record Statvfs(int errno, FsStats stats) {
    static Statvfs of(Path abs) {
      try (Arena arena = Arena.ofConfined()) {
        MemorySegment buf = arena.allocate(Libc.STATVFS_SIZE);
        int errno = Libc.statvfs(abs, buf);
        return errno != 0 ? new Statvfs(errno, null) : new Statvfs(0, toStats(buf));
      }
    }

    private static FsStats toStats(MemorySegment buf) {
      long frsize = field(buf, Libc.F_FRSIZE);
      long unit = frsize != 0 ? frsize : field(buf, Libc.F_BSIZE);
      long blocks = field(buf, Libc.F_BLOCKS);
      long free = field(buf, Libc.F_BFREE);
      long avail = field(buf, Libc.F_BAVAIL);
      long files = field(buf, Libc.F_FILES);
      long ffree = field(buf, Libc.F_FFREE);
      return new FsStats(
          times(blocks, unit),
          times(avail, unit),
          times(blocks - free, unit),
          files,
          ffree,
          Math.max(0, files - ffree));
    }

    /**
     * The fields are unsigned; a FUSE server may report absurd sizes, so saturate instead of
     * wrapping.
     */
    private static long field(MemorySegment buf, long offset) {
      long v = buf.get(JAVA_LONG, offset);
      return v < 0 ? Long.MAX_VALUE : v;
    }

    private static long times(long count, long unit) {
      if (count <= 0) {
        return 0;
      }
      try {
        return Math.multiplyExact(count, unit);
      } catch (ArithmeticException overflow) {
        return Long.MAX_VALUE;
      }
    }
  }
}

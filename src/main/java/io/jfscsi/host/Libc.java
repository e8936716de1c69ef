package io.jfscsi.host;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.file.Path;

/**
 * glibc calls through the FFM API, errno captured per call so no other native call can clobber it.
 * Each method returns 0 on success or the errno; results land in caller-supplied segments. Struct
 * offsets are those of x86_64 and aarch64 Linux glibc, the only targets of the driver.
 */
@SuppressWarnings("restricted") // the native access this class exists for; enabled at launch
final class Libc {
  private Libc() {}

  static final long MS_RDONLY = 1;
  static final long MS_NOSUID = 2;
  static final long MS_NODEV = 4;
  static final long MS_NOEXEC = 8;
  static final long MS_REMOUNT = 32;
  static final long MS_BIND = 4096;
  static final long MS_REC = 16384;
  static final long MS_SHARED = 1L << 20;
  static final int MNT_FORCE = 1;
  static final int MNT_DETACH = 2;

  static final int EPERM = 1;
  static final int ENOENT = 2;
  static final int EIO = 5;
  static final int EACCES = 13;
  static final int EBUSY = 16;
  static final int ENOTDIR = 20;
  static final int EEXIST = 17;
  static final int EXDEV = 18;
  static final int EISDIR = 21;
  static final int EINVAL = 22;
  static final int EROFS = 30;
  static final int ENOSYS = 38;
  static final int ENOTEMPTY = 39;
  static final int ELOOP = 40;
  static final int ECONNABORTED = 103;
  static final int ENOTCONN = 107;
  static final int ETIMEDOUT = 110;

  // statx(2): whether a path is the root of a mount, in one system call (Linux 5.8 and later).
  static final int AT_FDCWD = -100;
  static final int STATX_BASIC_STATS = 0x7ff;
  static final long STATX_SIZE = 256;
  static final long STX_ATTRIBUTES = 8;
  static final long STX_ATTRIBUTES_MASK = 56;
  static final long STATX_ATTR_MOUNT_ROOT = 0x2000;
  static final int AT_SYMLINK_NOFOLLOW = 0x100;

  /** Take the attributes the kernel has cached; a FUSE file system is not asked (no hang). */
  static final int AT_STATX_DONT_SYNC = 0x4000;

  static final int STATX_TYPE = 0x1;
  static final long STX_MODE = 28;

  // openat2(2), open_tree(2), move_mount(2), mount_setattr(2): called through syscall(2), as
  // glibc before 2.36 has no wrappers; their numbers are the same on every architecture but alpha.
  static final long SYS_OPEN_TREE = 428;
  static final long SYS_MOVE_MOUNT = 429;
  static final long SYS_OPENAT2 = 437;
  static final long SYS_MOUNT_SETATTR = 442;
  static final long O_PATH = 010000000;
  static final long O_CLOEXEC = 02000000;

  /** O_DIRECTORY differs between x86_64 and the arm64 generic ABI. */
  static final long O_DIRECTORY =
      System.getProperty("os.arch", "").matches("aarch64|arm64") ? 040000 : 0200000;

  static final long RESOLVE_NO_MAGICLINKS = 0x02;
  static final long RESOLVE_NO_SYMLINKS = 0x04;
  static final long RESOLVE_BENEATH = 0x08;
  static final int OPEN_TREE_CLONE = 1;
  static final int AT_EMPTY_PATH = 0x1000;
  static final int AT_REMOVEDIR = 0x200;
  static final int MOVE_MOUNT_F_EMPTY_PATH = 0x04;
  static final int MOVE_MOUNT_T_EMPTY_PATH = 0x40;
  static final long MOUNT_ATTR_RDONLY = 0x1;

  /** Larger than struct stat (144 bytes on x86_64, 128 on aarch64); st_dev and st_ino lead both. */
  static final long STAT_SIZE = 256;

  static final long ST_DEV = 0;
  static final long ST_INO = 8;

  /** struct statvfs on 64-bit glibc: eleven unsigned longs, then six spare ints (112 bytes). */
  static final long STATVFS_SIZE = 256;

  static final long F_BSIZE = 0;
  static final long F_FRSIZE = 8;
  static final long F_BLOCKS = 16;
  static final long F_BFREE = 24;
  static final long F_BAVAIL = 32;
  static final long F_FILES = 40;
  static final long F_FFREE = 48;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  private static final MethodHandle MOUNT =
      downcall(
          "mount", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  private static final MethodHandle UMOUNT2 =
      downcall("umount2", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle STAT =
      downcall("stat", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle STATX =
      downcall(
          "statx", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle STATVFS =
      downcall("statvfs", FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle OPENAT2 =
      variadicSyscall(JAVA_INT, ADDRESS, ADDRESS, JAVA_LONG);
  private static final MethodHandle OPEN_TREE = variadicSyscall(JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle MOVE_MOUNT =
      variadicSyscall(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_INT);
  private static final MethodHandle MOUNT_SETATTR =
      variadicSyscall(JAVA_INT, ADDRESS, JAVA_INT, ADDRESS, JAVA_LONG);
  private static final MethodHandle MKDIRAT =
      downcall("mkdirat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle UNLINKAT =
      downcall("unlinkat", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle KILL =
      downcall("kill", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle CLOSE =
      downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
  private static final MethodHandle STRERROR =
      LINKER.downcallHandle(
          LINKER.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));

  private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow(name), descriptor, CAPTURE_ERRNO);
  }

  /** syscall(2) with a number and {@code args}, which the C ABI passes as variadic arguments. */
  private static MethodHandle variadicSyscall(MemoryLayout... args) {
    MemoryLayout[] all = new MemoryLayout[args.length + 1];
    all[0] = JAVA_LONG;
    System.arraycopy(args, 0, all, 1, args.length);
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow("syscall"),
        FunctionDescriptor.of(JAVA_LONG, all),
        CAPTURE_ERRNO,
        Linker.Option.firstVariadicArg(1));
  }

  /**
   * openat2(2) of {@code name} relative to the directory {@code dirFd} with {@code flags} (O_*) and
   * {@code resolve} (RESOLVE_*): the new descriptor, or minus the errno.
   */
  static int openat2(int dirFd, String name, long flags, long resolve) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment how = arena.allocate(24, 8); // struct open_how: flags, mode, resolve
      how.set(JAVA_LONG, 0, flags);
      how.set(JAVA_LONG, 16, resolve);
      long rc =
          (long) OPENAT2.invokeExact(errno, SYS_OPENAT2, dirFd, arena.allocateFrom(name), how, 24L);
      return rc >= 0 ? (int) rc : -errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("openat2", t);
    }
  }

  /** open_tree(2) of the directory {@code fd} itself: a detached copy, or minus the errno. */
  static int openTreeClone(int fd) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      long rc =
          (long)
              OPEN_TREE.invokeExact(
                  errno,
                  SYS_OPEN_TREE,
                  fd,
                  arena.allocateFrom(""),
                  OPEN_TREE_CLONE | (int) O_CLOEXEC | AT_EMPTY_PATH);
      return rc >= 0 ? (int) rc : -errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("open_tree", t);
    }
  }

  /** mount_setattr(2) of the mount {@code fd} itself, setting {@code attrSet} (MOUNT_ATTR_*). */
  static int mountSetattr(int fd, long attrSet) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment attr = arena.allocate(32, 8); // struct mount_attr, first version
      attr.set(JAVA_LONG, 0, attrSet);
      long rc =
          (long)
              MOUNT_SETATTR.invokeExact(
                  errno, SYS_MOUNT_SETATTR, fd, arena.allocateFrom(""), AT_EMPTY_PATH, attr, 32L);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("mount_setattr", t);
    }
  }

  /** move_mount(2) of the detached mount {@code fromFd} onto the directory {@code toFd}. */
  static int moveMount(int fromFd, int toFd) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment empty = arena.allocateFrom("");
      long rc =
          (long)
              MOVE_MOUNT.invokeExact(
                  errno,
                  SYS_MOVE_MOUNT,
                  fromFd,
                  empty,
                  toFd,
                  empty,
                  MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("move_mount", t);
    }
  }

  static int mkdirat(int dirFd, String name, int mode) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) MKDIRAT.invokeExact(errno, dirFd, arena.allocateFrom(name), mode);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("mkdirat", t);
    }
  }

  /** unlinkat(2); never follows a symbolic link, whatever {@code name} is. */
  static int unlinkat(int dirFd, String name, int flags) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) UNLINKAT.invokeExact(errno, dirFd, arena.allocateFrom(name), flags);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("unlinkat", t);
    }
  }

  /** kill(2); a negative {@code pid} names a process group. */
  static int kill(int pid, int signal) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) KILL.invokeExact(errno, pid, signal);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("kill", t);
    }
  }

  static void close(int fd) {
    try (Arena arena = Arena.ofConfined()) {
      int ignored = (int) CLOSE.invokeExact(arena.allocate(CAPTURE), fd);
    } catch (Throwable t) {
      throw linkageFailure("close", t);
    }
  }

  /** mount(2) with no file system type (binds, remounts, propagation); a null source is NULL. */
  static int mount(Path source, Path target, long flags) {
    return mountType(source == null ? null : source.toString(), target, null, flags);
  }

  /**
   * mount(2) of a file system of {@code type} (a pseudo file system such as fusectl); a null source
   * or type is passed as NULL, the data always.
   */
  static int mountType(String source, Path target, String type, long flags) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      // Typed locals: invokeExact takes an argument's static type, and a conditional is Object.
      MemorySegment src = source == null ? MemorySegment.NULL : arena.allocateFrom(source);
      MemorySegment fsType = type == null ? MemorySegment.NULL : arena.allocateFrom(type);
      int rc =
          (int)
              MOUNT.invokeExact(
                  errno,
                  src,
                  arena.allocateFrom(target.toString()),
                  fsType,
                  flags,
                  MemorySegment.NULL);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("mount", t);
    }
  }

  static int umount2(Path target, int flags) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) UMOUNT2.invokeExact(errno, arena.allocateFrom(target.toString()), flags);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("umount2", t);
    }
  }

  /** stat(2) into {@code buf} (at least {@link #STAT_SIZE} bytes). */
  static int stat(Path path, MemorySegment buf) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) STAT.invokeExact(errno, arena.allocateFrom(path.toString()), buf);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("stat", t);
    }
  }

  /** statx(2) of {@code path} (following symbolic links) into {@code buf} ({@link #STATX_SIZE}). */
  static int statx(Path path, MemorySegment buf) {
    return statx(path, 0, STATX_BASIC_STATS, buf);
  }

  /** statx(2) of {@code path} with {@code flags} (AT_*) and {@code mask} (STATX_*). */
  static int statx(Path path, int flags, int mask, MemorySegment buf) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc =
          (int)
              STATX.invokeExact(
                  errno, AT_FDCWD, arena.allocateFrom(path.toString()), flags, mask, buf);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("statx", t);
    }
  }

  /** statvfs(3) into {@code buf} (at least {@link #STATVFS_SIZE} bytes). */
  static int statvfs(Path path, MemorySegment buf) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int rc = (int) STATVFS.invokeExact(errno, arena.allocateFrom(path.toString()), buf);
      return rc == 0 ? 0 : errnoOf(errno);
    } catch (Throwable t) {
      throw linkageFailure("statvfs", t);
    }
  }

  /** The C library's text for an errno, e.g. "Transport endpoint is not connected". */
  static String strerror(int errno) {
    try {
      MemorySegment text = (MemorySegment) STRERROR.invokeExact(errno);
      // The returned pointer has no size; messages are short, so a 1 KiB window bounds the read.
      return text.equals(MemorySegment.NULL)
          ? "errno " + errno
          : text.reinterpret(1024).getString(0);
    } catch (Throwable t) {
      throw linkageFailure("strerror", t);
    }
  }

  private static int errnoOf(MemorySegment capture) {
    int errno = (int) ERRNO.get(capture, 0L);
    // A failed call without errno would be a libc bug; report EIO rather than pretend success.
    return errno == 0 ? EIO : errno;
  }

  /** invokeExact declares Throwable; the downcalls themselves throw nothing checked. */
  private static RuntimeException linkageFailure(String call, Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException("native call " + call + " failed to run", t);
  }
}

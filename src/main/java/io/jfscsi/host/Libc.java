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
 * glibc calls through the FFM API, errno captured per call so no other native call can clobber
 * it. Each method returns 0 on success or the errno; results land in caller-supplied segments.
 * Struct offsets are those of x86_64 and aarch64 Linux glibc, the only targets of the driver.
 */
@SuppressWarnings("restricted") // the native access this class exists for; enabled at launch
final class Libc {
  private Libc() {}

  static final long MS_RDONLY = 1;
  static final long MS_REMOUNT = 32;
  static final long MS_BIND = 4096;
  static final long MS_REC = 16384;
  static final long MS_SHARED = 1L << 20;
  static final int MNT_FORCE = 1;
  static final int MNT_DETACH = 2;

  static final int ENOENT = 2;
  static final int EIO = 5;
  static final int EACCES = 13;
  static final int EBUSY = 16;
  static final int ENOTDIR = 20;
  static final int EINVAL = 22;
  static final int EROFS = 30;
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

  private static final MethodHandle MOUNT = downcall("mount",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS, ADDRESS, JAVA_LONG, ADDRESS));
  private static final MethodHandle UMOUNT2 = downcall("umount2",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle STAT = downcall("stat",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle STATX = downcall("statx",
      FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS));
  private static final MethodHandle STATVFS = downcall("statvfs",
      FunctionDescriptor.of(JAVA_INT, ADDRESS, ADDRESS));
  private static final MethodHandle STRERROR = LINKER.downcallHandle(
      LINKER.defaultLookup().findOrThrow("strerror"), FunctionDescriptor.of(ADDRESS, JAVA_INT));

  private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor, CAPTURE_ERRNO);
  }

  /** mount(2); a null source or data is passed as NULL, the file system type is always NULL. */
  static int mount(Path source, Path target, long flags) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment src = source == null ? MemorySegment.NULL : arena.allocateFrom(source.toString());
      int rc = (int) MOUNT.invokeExact(errno, src, arena.allocateFrom(target.toString()),
          MemorySegment.NULL, flags, MemorySegment.NULL);
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
      int rc = (int) STATX.invokeExact(errno, AT_FDCWD, arena.allocateFrom(path.toString()),
          flags, mask, buf);
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
      return text.equals(MemorySegment.NULL) ? "errno " + errno : text.reinterpret(1024).getString(0);
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

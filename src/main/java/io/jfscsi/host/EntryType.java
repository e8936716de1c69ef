package io.jfscsi.host;

import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;

/**
 * What a path names, without following a symbolic link at its end, in one statx(2) that takes the
 * attributes the kernel has cached ({@code AT_STATX_DONT_SYNC}): a FUSE file system mounted there
 * is not asked, so a hung client cannot block the caller. That makes it safe on a thread that must
 * never block, such as a gRPC transport thread; the type of an inode never changes, so cached
 * attributes are as good as fresh ones for this question.
 */
public enum EntryType {
  MISSING,
  DIRECTORY,
  SYMLINK,
  OTHER,
  /** statx failed with something other than ENOENT or ENOTDIR (e.g. EACCES). */
  UNKNOWN;

  private static final int S_IFMT = 0170000;
  private static final int S_IFDIR = 0040000;
  private static final int S_IFLNK = 0120000;

  public static EntryType of(Path path) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment buf = arena.allocate(Libc.STATX_SIZE);
      int errno =
          Libc.statx(
              path, Libc.AT_SYMLINK_NOFOLLOW | Libc.AT_STATX_DONT_SYNC, Libc.STATX_TYPE, buf);
      if (errno == Libc.ENOENT || errno == Libc.ENOTDIR) {
        return MISSING;
      }
      if (errno != 0) {
        return UNKNOWN;
      }
      int type = Short.toUnsignedInt(buf.get(JAVA_SHORT, Libc.STX_MODE)) & S_IFMT;
      return type == S_IFDIR ? DIRECTORY : type == S_IFLNK ? SYMLINK : OTHER;
    }
  }
}

package io.jfscsi.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * The port through which the driver changes and inspects mount points on this host. The real
 * implementation calls the kernel; actor simulations use an in-memory fake.
 *
 * <p>Every method may block for the duration of a system call and is called from the mount actors'
 * blocking dispatcher, never from a gRPC thread.
 */
public interface Mounter {

  /**
   * Bind-mounts {@code source} onto {@code target}; with {@code readOnly} the bind is remounted
   * read-only so that writes through the target fail with EROFS. The target directory must exist.
   */
  void bind(Path source, Path target, boolean readOnly) throws MountException;

  /**
   * Binds the directory {@code source} onto the directory {@code target}, each resolved beneath its
   * root without crossing a symbolic link, and binds the very directory it resolved (no second
   * lookup by name that a swapped symlink could redirect). With {@code createSource}, missing
   * directories of {@code source} are made on the way. With {@code readOnly} the bind is read-only
   * from its first moment.
   *
   * @throws MountException {@link MountException#refused()} for a symbolic link on the way, a way
   *     out of a root or a file where a directory must be
   */
  void bind(PathBeneath source, PathBeneath target, boolean readOnly, boolean createSource)
      throws MountException;

  /**
   * Makes the directory {@code target}, its parent resolved as {@link #bind(PathBeneath,
   * PathBeneath, boolean, boolean)} does. Returns false when something of that name exists.
   */
  boolean createTarget(PathBeneath target) throws MountException;

  /**
   * Unmounts every mount stacked on {@code target} (stale ones included). Succeeds when nothing is
   * mounted there. Does not remove the directory.
   */
  void unmount(Path target) throws MountException;

  /** What is at {@code path} right now, without hanging on a dead FUSE client. */
  MountState probe(Path path);

  /** Byte and inode figures of the file system that serves {@code path}. */
  FsStats stats(Path path) throws MountException;

  /** The mount table of this process's mount namespace (/proc/self/mountinfo). */
  List<MountEntry> mounts();

  /**
   * The top-most mount at {@code path}, empty when it is not a mount point. This default compares
   * the absolute, normalized path with {@link #mounts()}; the real mounter also resolves symlinks.
   */
  default Optional<MountEntry> entryAt(Path path) {
    return MountInfo.topMostAt(mounts(), path.toAbsolutePath().normalize());
  }

  /** Whether something is mounted at {@code path}, judged by the mount table, never by stat. */
  default boolean isMountPoint(Path path) {
    return entryAt(path).isPresent();
  }
}

package io.jfscsi.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Directories resolved beneath a root without crossing a symbolic link, then used through the
 * descriptor that was resolved, so that a name swapped for a symlink after the check changes
 * nothing (kubelet's subPath fix, CVE-2017-1002101, works the same way). Anyone who can write to a
 * volume can plant a symlink in it; anyone who can race a directory under the kubelet root could
 * otherwise redirect a bind or a mkdir onto the host.
 *
 * <p>openat2(2) with RESOLVE_BENEATH and RESOLVE_NO_SYMLINKS does the walk in the kernel (Linux 5.6
 * and later); missing directories are made with mkdirat(2) relative to their parent's descriptor.
 * Calls on a FUSE file system may block on its client, like any path lookup.
 */
public final class Beneath {
  private Beneath() {}

  private static final long OPEN_DIR = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC;
  private static final long STRICT =
      Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS;

  /** An open descriptor of a directory; {@link #close()} releases it. */
  public static final class Dir implements AutoCloseable {
    private final int fd;
    private final PathBeneath shown;
    private boolean closed;

    private Dir(int fd, PathBeneath shown) {
      this.fd = fd;
      this.shown = shown;
    }

    int fd() {
      return fd;
    }

    /** The path this descriptor was opened by, for messages only: never resolve it again. */
    public PathBeneath shown() {
      return shown;
    }

    /** /proc/self/fd/N: the very directory, for calls that take a path. */
    public Path procPath() {
      return Path.of("/proc/self/fd/" + fd);
    }

    @Override
    public void close() {
      if (!closed) {
        closed = true;
        Libc.close(fd);
      }
    }
  }

  /**
   * Opens the directory {@code at} (O_PATH). With {@code create}, missing directories on the way
   * are made (mode 0777 less the umask, as mkdir -p).
   *
   * @throws MountException ELOOP for a symbolic link on the way, EXDEV for a way out of the root,
   *     ENOTDIR for a file, ENOENT for a missing name without create
   */
  public static Dir open(PathBeneath at, boolean create) throws MountException {
    List<String> names = names(at);
    int root = openRoot(at.root());
    if (names.isEmpty()) {
      return new Dir(root, at);
    }
    int fd = Libc.openat2(root, String.join("/", names), OPEN_DIR, STRICT);
    if (fd >= 0 || fd != -Libc.ENOENT || !create) {
      Libc.close(root);
      if (fd < 0) {
        throw failure("open", at, -fd);
      }
      return new Dir(fd, at);
    }
    // Some names are missing: walk them one by one, each relative to its parent's descriptor.
    int parent = root;
    try {
      for (String name : names) {
        int child = Libc.openat2(parent, name, OPEN_DIR, STRICT);
        if (child == -Libc.ENOENT) {
          int made = Libc.mkdirat(parent, name, 0777);
          if (made != 0 && made != Libc.EEXIST) {
            throw failure("mkdir", at, made);
          }
          child = Libc.openat2(parent, name, OPEN_DIR, STRICT);
        }
        if (child < 0) {
          throw failure("open", at, -child);
        }
        Libc.close(parent);
        parent = child;
      }
      int opened = parent;
      parent = -1;
      return new Dir(opened, at);
    } finally {
      if (parent >= 0) {
        Libc.close(parent);
      }
    }
  }

  /**
   * Makes the directory {@code at}; its parent must exist and is resolved as {@link #open} does.
   *
   * @return true if it made it, false if something of that name is there already
   */
  public static boolean mkdir(PathBeneath at, int mode) throws MountException {
    List<String> names = names(at);
    if (names.isEmpty()) {
      return false;
    }
    try (Dir parent = open(parentOf(at, names), false)) {
      int err = Libc.mkdirat(parent.fd(), names.getLast(), mode);
      if (err == Libc.EEXIST) {
        return false;
      }
      if (err != 0) {
        throw failure("mkdir", at, err);
      }
      return true;
    }
  }

  /** Whether {@code at} is a directory reached without a symbolic link. */
  public static boolean isDirectory(PathBeneath at) throws MountException {
    try (Dir ignored = open(at, false)) {
      return true;
    } catch (MountException e) {
      int errno = e.errno();
      if (errno == Libc.ENOENT
          || errno == Libc.ENOTDIR
          || errno == Libc.ELOOP
          || errno == Libc.EXDEV) {
        return false;
      }
      throw e;
    }
  }

  /**
   * Removes {@code at} and everything below it; nothing when it is missing. A symbolic link is
   * removed, never followed, at any depth: every directory is opened relative to its parent.
   */
  public static void removeTree(PathBeneath at) throws MountException {
    List<String> names = names(at);
    if (names.isEmpty()) {
      throw new MountException("refusing to remove the root " + at.root(), Libc.EPERM);
    }
    Dir parent;
    try {
      parent = open(parentOf(at, names), false);
    } catch (MountException e) {
      if (e.notFound()) {
        return;
      }
      throw e;
    }
    try (parent) {
      remove(parent.fd(), names.getLast(), at);
    }
  }

  private static void remove(int parentFd, String name, PathBeneath shown) throws MountException {
    int err = Libc.unlinkat(parentFd, name, 0);
    if (err == 0 || err == Libc.ENOENT) {
      return;
    }
    if (err != Libc.EISDIR && err != Libc.EPERM) {
      throw failure("remove", shown, err);
    }
    int dir = Libc.openat2(parentFd, name, OPEN_DIR, STRICT);
    if (dir < 0) {
      throw failure("open", shown, -dir);
    }
    try {
      for (String child : list(dir, shown)) {
        remove(dir, child, shown);
      }
    } finally {
      Libc.close(dir);
    }
    err = Libc.unlinkat(parentFd, name, Libc.AT_REMOVEDIR);
    if (err != 0 && err != Libc.ENOENT) {
      throw failure("remove", shown, err);
    }
  }

  /** The names in the directory {@code fd}, read through its /proc link (the same directory). */
  private static List<String> list(int fd, PathBeneath shown) throws MountException {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(Path.of("/proc/self/fd/" + fd))) {
      entries.forEach(p -> names.add(p.getFileName().toString()));
    } catch (IOException e) {
      throw new MountException("list " + shown + ": " + e.getMessage(), Libc.EIO);
    }
    return names;
  }

  private static int openRoot(Path root) throws MountException {
    int fd = Libc.openat2(Libc.AT_FDCWD, root.toString(), OPEN_DIR, 0);
    if (fd < 0) {
      throw failure("open", new PathBeneath(root, ""), -fd);
    }
    return fd;
  }

  private static PathBeneath parentOf(PathBeneath at, List<String> names) {
    return new PathBeneath(at.root(), String.join("/", names.subList(0, names.size() - 1)));
  }

  /** The names of {@code at.relative()}; "." and ".." are refused rather than resolved. */
  private static List<String> names(PathBeneath at) throws MountException {
    List<String> names = new ArrayList<>();
    for (String name : at.relative().split("/")) {
      if (name.equals("..") || name.equals(".")) {
        throw new MountException(
            at + ": '" + name + "' is not allowed in a path beneath " + at.root(), Libc.EXDEV);
      }
      if (!name.isEmpty()) {
        names.add(name);
      }
    }
    return names;
  }

  private static MountException failure(String what, PathBeneath at, int errno) {
    String why =
        switch (errno) {
          case Libc.ELOOP ->
              "it crosses a symbolic link, which is not followed beneath " + at.root();
          case Libc.EXDEV -> "it leaves " + at.root();
          default -> Libc.strerror(errno);
        };
    return new MountException(what + " " + at + ": " + why + " (errno " + errno + ")", errno);
  }
}

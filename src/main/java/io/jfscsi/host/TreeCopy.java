package io.jfscsi.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributeView;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A copy of a directory tree that keeps modes, owners and times, for file systems that have no
 * clone of their own (the embedded default's local directory). Symbolic links are copied as links,
 * never followed: every directory and file is opened relative to its parent's descriptor with
 * openat2(RESOLVE_NO_SYMLINKS), so a name swapped for a link while the copy runs fails the copy
 * instead of reading or writing outside the volume. Hard links become separate files; sockets,
 * FIFOs and devices are left out and counted.
 */
public final class TreeCopy {
  private TreeCopy() {}

  /** What a copy or a measure saw. */
  public record Tally(long bytes, long files, long skipped) {}

  private static final long OPEN_DIR = Libc.O_PATH | Libc.O_DIRECTORY | Libc.O_CLOEXEC;
  private static final long OPEN_READ = Libc.O_CLOEXEC; // O_RDONLY is 0
  private static final long STRICT =
      Libc.RESOLVE_BENEATH | Libc.RESOLVE_NO_SYMLINKS | Libc.RESOLVE_NO_MAGICLINKS;
  private static final String ATTRIBUTES = "unix:mode,uid,gid,size,lastModifiedTime";
  private static final int S_IFMT = 0170000;
  private static final int S_IFDIR = 0040000;
  private static final int S_IFREG = 0100000;
  private static final int S_IFLNK = 0120000;

  /**
   * Copies the directory {@code from} to {@code to}, which must not exist; its parent must. On a
   * failure what was made of {@code to} stays: the caller copies into a name of its own and removes
   * it (see controller.MountedDirectories).
   */
  public static Tally copy(PathBeneath from, PathBeneath to) throws MountException {
    Counter counter = new Counter();
    try (Beneath.Dir source = Beneath.open(from, false);
        Beneath.Dir parent = Beneath.open(parentOf(to), false)) {
      String name = lastName(to);
      int made = Libc.mkdirat(parent.fd(), name, 0700);
      if (made != 0) {
        throw new MountException("mkdir " + to + ": " + Libc.strerror(made), made);
      }
      int target = open(parent.fd(), name, OPEN_DIR, to);
      try {
        copyDirectory(source.fd(), target, from, counter);
        copyAttributes(source.procPath(), procPath(target), false);
      } finally {
        Libc.close(target);
      }
    } catch (IOException e) {
      throw new MountException("copy " + from + " to " + to + ": " + e.getMessage(), Libc.EIO);
    }
    return counter.tally();
  }

  /** The bytes and files below {@code at}, walked the same way: links are not followed. */
  public static Tally measure(PathBeneath at) throws MountException {
    Counter counter = new Counter();
    try (Beneath.Dir dir = Beneath.open(at, false)) {
      measureDirectory(dir.fd(), at, counter);
    } catch (IOException e) {
      throw new MountException("measure " + at + ": " + e.getMessage(), Libc.EIO);
    }
    return counter.tally();
  }

  private static void copyDirectory(int source, int target, PathBeneath shown, Counter counter)
      throws MountException, IOException {
    Path from = procPath(source);
    Path to = procPath(target);
    for (String name : list(from)) {
      Map<String, Object> attrs =
          Files.readAttributes(from.resolve(name), ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
      int type = (Integer) attrs.get("mode") & S_IFMT;
      switch (type) {
        case S_IFDIR -> {
          int child = open(source, name, OPEN_DIR, shown);
          try {
            int made = Libc.mkdirat(target, name, 0700);
            if (made != 0) {
              throw new MountException(
                  "mkdir " + name + " in the copy of " + shown + ": " + Libc.strerror(made), made);
            }
            int copy = open(target, name, OPEN_DIR, shown);
            try {
              copyDirectory(child, copy, shown, counter);
              copyAttributes(procPath(child), procPath(copy), false);
            } finally {
              Libc.close(copy);
            }
          } finally {
            Libc.close(child);
          }
        }
        case S_IFREG -> {
          int file = open(source, name, OPEN_READ, shown);
          try {
            // The descriptor's /proc link reopens the very file that was opened without a link.
            Files.copy(procPath(file), to.resolve(name));
            copyAttributes(procPath(file), to.resolve(name), false);
          } catch (FileAlreadyExistsException e) {
            throw new MountException("copy of " + shown + ": " + name + " appeared", Libc.EEXIST);
          } finally {
            Libc.close(file);
          }
          counter.file(((Number) attrs.get("size")).longValue());
        }
        case S_IFLNK -> {
          Path link = to.resolve(name);
          Files.createSymbolicLink(link, Files.readSymbolicLink(from.resolve(name)));
          setOwnerAndTime(link, attrs, true);
          counter.file(0);
        }
        default -> counter.skip();
      }
    }
  }

  private static void measureDirectory(int dir, PathBeneath shown, Counter counter)
      throws MountException, IOException {
    Path at = procPath(dir);
    for (String name : list(at)) {
      Map<String, Object> attrs =
          Files.readAttributes(at.resolve(name), ATTRIBUTES, LinkOption.NOFOLLOW_LINKS);
      int type = (Integer) attrs.get("mode") & S_IFMT;
      if (type == S_IFDIR) {
        int child = open(dir, name, OPEN_DIR, shown);
        try {
          measureDirectory(child, shown, counter);
        } finally {
          Libc.close(child);
        }
      } else if (type == S_IFREG) {
        counter.file(((Number) attrs.get("size")).longValue());
      } else if (type == S_IFLNK) {
        counter.file(0);
      } else {
        counter.skip();
      }
    }
  }

  /** Mode (with set-id and sticky bits), owner and times of {@code from} onto {@code to}. */
  private static void copyAttributes(Path from, Path to, boolean link) throws IOException {
    Map<String, Object> attrs = Files.readAttributes(from, ATTRIBUTES);
    setOwnerAndTime(to, attrs, link);
    // After the owner: chown clears the set-id bits.
    Files.setAttribute(to, "unix:mode", (Integer) attrs.get("mode") & 07777);
  }

  private static void setOwnerAndTime(Path to, Map<String, Object> attrs, boolean link)
      throws IOException {
    LinkOption[] options = link ? new LinkOption[] {LinkOption.NOFOLLOW_LINKS} : new LinkOption[0];
    Files.setAttribute(to, "unix:uid", attrs.get("uid"), options);
    Files.setAttribute(to, "unix:gid", attrs.get("gid"), options);
    FileTime modified = (FileTime) attrs.get("lastModifiedTime");
    Files.getFileAttributeView(to, BasicFileAttributeView.class, options)
        .setTimes(modified, null, null);
  }

  private static int open(int dir, String name, long flags, PathBeneath shown)
      throws MountException {
    int fd = Libc.openat2(dir, name, flags, STRICT);
    if (fd < 0) {
      String why =
          -fd == Libc.ELOOP
              ? "it became a symbolic link while it was copied, which is never followed"
              : Libc.strerror(-fd);
      throw new MountException("open " + name + " below " + shown + ": " + why, -fd);
    }
    return fd;
  }

  private static List<String> list(Path dir) throws IOException {
    List<String> names = new ArrayList<>();
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      entries.forEach(p -> names.add(p.getFileName().toString()));
    }
    return names;
  }

  private static Path procPath(int fd) {
    return Path.of("/proc/self/fd/" + fd);
  }

  private static PathBeneath parentOf(PathBeneath at) throws MountException {
    int slash = at.relative().lastIndexOf('/');
    if (at.relative().isEmpty()) {
      throw new MountException("refusing to copy onto the root " + at.root(), Libc.EPERM);
    }
    return new PathBeneath(at.root(), slash < 0 ? "" : at.relative().substring(0, slash));
  }

  private static String lastName(PathBeneath at) {
    return at.relative().substring(at.relative().lastIndexOf('/') + 1);
  }

  private static final class Counter {
    private long bytes;
    private long files;
    private long skipped;

    void file(long size) {
      bytes += size;
      files++;
    }

    void skip() {
      skipped++;
    }

    Tally tally() {
      return new Tally(bytes, files, skipped);
    }
  }
}

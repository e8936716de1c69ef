package io.jfscsi.host;

/** A mount system call failed; {@code errno} is the kernel's error number, 0 when unknown. */
public class MountException extends Exception {
  private final int errno;

  public MountException(String message, int errno) {
    super(message);
    this.errno = errno;
  }

  public int errno() {
    return errno;
  }

  /** ENOENT: a path the call needs does not exist. */
  public boolean notFound() {
    return errno == Libc.ENOENT;
  }

  /**
   * ELOOP, EXDEV or ENOTDIR from a walk beneath a root ({@link Beneath}): the path crosses a
   * symbolic link, leaves its root or runs through a file. A fault of the request or of what the
   * volume holds, not of the host.
   */
  public boolean refused() {
    return errno == Libc.ELOOP || errno == Libc.EXDEV || errno == Libc.ENOTDIR;
  }
}

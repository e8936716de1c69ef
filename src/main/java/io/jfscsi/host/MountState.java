package io.jfscsi.host;

/** What a probe found at a path. */
public enum MountState {
  /** Nothing exists at the path. */
  MISSING,
  /** A directory (or file) that is not a mount point. */
  NOT_MOUNTED,
  /** A mount point whose file system answers. */
  MOUNTED,
  /** A mount point whose file system is gone: ENOTCONN, EIO or a hung stat. */
  STALE
}

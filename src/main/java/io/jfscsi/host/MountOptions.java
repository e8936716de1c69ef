package io.jfscsi.host;

/** Translates per-mount options as mountinfo prints them back into mount(2) flags. */
final class MountOptions {
  private MountOptions() {}

  static final long MS_NOSUID = 2;
  static final long MS_NODEV = 4;
  static final long MS_NOEXEC = 8;

  /**
   * The nosuid, nodev and noexec flags among {@code options}: the ones a bind remount would
   * silently clear if not passed again. Atime flags are left out because the kernel preserves
   * them on remount when none is given.
   */
  static long perMountFlags(String options) {
    long flags = 0;
    for (String o : options.split(",")) {
      switch (o) {
        case "nosuid" -> flags |= MS_NOSUID;
        case "nodev" -> flags |= MS_NODEV;
        case "noexec" -> flags |= MS_NOEXEC;
        default -> { }
      }
    }
    return flags;
  }
}

package io.jfscsi.fusefd;

import io.jfscsi.host.FdSockets;
import java.nio.file.Path;

/**
 * The descriptor sent first in every offer. The client closes it unread but indexes it blindly, so
 * one must be there; the Go driver sends its stdin, which in a container may be anything open.
 * /dev/null, opened once for the life of the process, gives the client nothing.
 */
final class Placeholder {
  private Placeholder() {}

  private static final class Holder {
    static final int FD = FdSockets.openReadOnly(Path.of("/dev/null"));
  }

  static int fd() {
    return Holder.FD;
  }
}

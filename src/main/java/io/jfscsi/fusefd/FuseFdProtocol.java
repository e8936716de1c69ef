package io.jfscsi.fusefd;

import io.jfscsi.host.FdSockets;
import io.jfscsi.host.FdSockets.Message;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The JuiceFS client's FUSE descriptor exchange, as read from the sources (comments only, no code
 * taken): juicedata/juicefs-csi-driver pkg/fuse/passfd/passfd.go at commit
 * 66379f863df2c7705ed76e4cbe37bdf472480463 (the keeper's side), pkg/fuse/grace/pod_upgrade.go at
 * 29d1f1473f6da990be1bbdefbe64762443906519 (the upgrade), and juicedata/juicefs cmd/passfd.go at
 * 08bff02f9c72f51233228d22b62a743e2472ecb0 (the client's side, {@code JFS_SUPER_COMM}).
 *
 * <p>On every connection to the keeper's socket, the keeper speaks first: one message whose payload
 * is the held setting (the kernel's FUSE INIT answer the client saved, or {@code FUSE} when none is
 * held) and whose SCM_RIGHTS carry a placeholder descriptor and, when it holds one, the FUSE
 * descriptor; the client always closes the first. Having sent it, the keeper closes its copy. The
 * client then answers one message: {@code CLOSE} (it took the descriptor, or wants nothing) or a
 * setting with its own FUSE descriptor, which the keeper keeps if it holds none. The client's
 * supervisor serves the same exchange on {@code fuse_fd_comm.<pid>} in the same directory; the
 * keeper uses that one at its start to take back a descriptor it lost with a restart of the driver,
 * handing it straight back.
 */
public final class FuseFdProtocol {
  private FuseFdProtocol() {}

  /** The keeper's socket in the client's directory; the Mount Pod sees the directory as /tmp. */
  public static final String KEEPER_SOCKET = "fuse_fd_csi_comm.sock";

  /** Prefix of the client supervisor's own socket: {@code fuse_fd_comm.<pid>}. */
  public static final String CLIENT_SOCKET_PREFIX = "fuse_fd_comm.";

  /** The setting the keeper sends when it holds no descriptor. */
  static final byte[] NOTHING_HELD = "FUSE".getBytes(StandardCharsets.US_ASCII);

  /** The answer of a client that takes the descriptor or hands nothing in. */
  static final String CLOSE = "CLOSE";

  /** Larger than any setting the client sends (go-fuse's InitIn, about 100 bytes). */
  private static final int MAX_PAYLOAD = 4096;

  /** A FUSE descriptor the keeper owns and the setting the client sent with it. */
  public record Held(int fd, byte[] setting) {}

  /**
   * Serves one connection {@code conn} (closed here): hands out what {@code lend} gives, and passes
   * to {@code keep} the descriptor the client answers with. A descriptor that could not be sent
   * goes back to {@code keep}, so a failed send loses nothing.
   */
  static void serve(
      int conn, Duration timeout, Supplier<Optional<Held>> lend, Consumer<Held> keep) {
    try {
      FdSockets.timeout(conn, timeout);
      Optional<Held> lent = lend.get();
      int placeholder = Placeholder.fd();
      List<Integer> fds = new ArrayList<>(List.of(placeholder));
      lent.ifPresent(h -> fds.add(h.fd()));
      try {
        FdSockets.send(conn, lent.map(Held::setting).orElse(NOTHING_HELD), fds);
      } catch (RuntimeException e) {
        lent.ifPresent(keep);
        throw e;
      }
      lent.ifPresent(h -> FdSockets.close(h.fd()));
      Message answer = FdSockets.receive(conn, MAX_PAYLOAD, 1);
      if (!answer.text().equals(CLOSE) && !answer.fds().isEmpty()) {
        keep.accept(new Held(answer.fds().getFirst(), answer.payload()));
        answer.fds().subList(1, answer.fds().size()).forEach(FdSockets::close);
      } else {
        answer.fds().forEach(FdSockets::close);
      }
    } finally {
      FdSockets.close(conn);
    }
  }

  /**
   * Takes the descriptor of a client supervisor that serves {@code socket} and hands it straight
   * back, keeping a copy: what a restarted driver does to hold again what its predecessor held.
   * Empty when the client holds none or does not answer.
   */
  static Optional<Held> reclaim(Path socket, Duration timeout) {
    int conn = FdSockets.connect(socket);
    try {
      FdSockets.timeout(conn, timeout);
      Message offer = FdSockets.receive(conn, MAX_PAYLOAD, 2);
      List<Integer> fds = offer.fds();
      fds.stream().limit(1).forEach(FdSockets::close);
      if (fds.size() < 2) {
        return Optional.empty();
      }
      int fuse = fds.get(1);
      try {
        FdSockets.send(conn, offer.payload(), List.of(fuse));
      } catch (RuntimeException e) {
        // The client gave its copy away; ours is now the only one, so it must be kept.
      }
      return Optional.of(new Held(fuse, offer.payload()));
    } finally {
      FdSockets.close(conn);
    }
  }

  /**
   * Makes the client supervisor that serves {@code socket} let go of its copy of the FUSE
   * descriptor (it is offered, and answered {@code CLOSE}), as the Go driver does before it
   * replaces a client: the keeper's copy and the mount process's remain. Whether the supervisor
   * held one.
   */
  public static boolean takeAway(Path socket, Duration timeout) {
    int conn = FdSockets.connect(socket);
    try {
      FdSockets.timeout(conn, timeout);
      Message offer = FdSockets.receive(conn, MAX_PAYLOAD, 2);
      FdSockets.send(conn, CLOSE.getBytes(StandardCharsets.US_ASCII), List.of(Placeholder.fd()));
      offer.fds().forEach(FdSockets::close);
      return offer.fds().size() > 1;
    } finally {
      FdSockets.close(conn);
    }
  }

  /** The client supervisors' sockets in {@code dir}. */
  public static List<Path> clientSockets(Path dir) throws IOException {
    try (var entries = Files.list(dir)) {
      return entries
          .filter(p -> p.getFileName().toString().startsWith(CLIENT_SOCKET_PREFIX))
          .sorted()
          .toList();
    }
  }

  /**
   * What {@code fd} is open on, as /proc/self/fd shows it ({@code /dev/fuse}, {@code pipe:[N]}).
   */
  static String openOn(int fd) {
    try {
      return Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)).toString();
    } catch (IOException e) {
      return "fd " + fd;
    }
  }
}

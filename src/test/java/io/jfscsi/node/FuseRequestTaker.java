package io.jfscsi.node;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A second reader of a FUSE client's connection, outside its container: a copy of the client's
 * {@code /dev/fuse} descriptor (pidfd_getfd(2)) that takes one request off the connection and never
 * answers it. It plays the part of a client thread hung on a request while the connection lives on
 * (as a JuiceFS client's does when another process holds its descriptor, the Go driver's smooth
 * upgrade): the process that asked then sleeps uninterruptibly once it is killed, and with it the
 * container that holds it, until the connection is aborted or every descriptor of it is closed.
 */
@SuppressWarnings("restricted") // native calls of a test on the node, as root
final class FuseRequestTaker implements AutoCloseable {
  private static final long SYS_PIDFD_OPEN = 434;
  private static final long SYS_PIDFD_GETFD = 438;

  /** Larger than any request (bindfs's max_write plus the header); the kernel wants >= 8 KiB. */
  private static final int BUFFER = 2 << 20;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final MethodHandle SYSCALL =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("syscall").orElseThrow(),
          FunctionDescriptor.of(JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG, JAVA_LONG),
          Linker.Option.firstVariadicArg(1));
  private static final MethodHandle READ =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("read").orElseThrow(),
          FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG));
  private static final MethodHandle CLOSE =
      LINKER.downcallHandle(
          LINKER.defaultLookup().find("close").orElseThrow(),
          FunctionDescriptor.of(JAVA_INT, JAVA_INT));

  private final int fd;

  private FuseRequestTaker(int fd) {
    this.fd = fd;
  }

  /** A copy of the {@code /dev/fuse} descriptor of process {@code pid}. */
  static FuseRequestTaker of(long pid) throws IOException {
    int target = -1;
    try (var fds = Files.list(Path.of("/proc", Long.toString(pid), "fd"))) {
      for (Path f : fds.toList()) {
        if (Files.readSymbolicLink(f).toString().equals("/dev/fuse")) {
          target = Integer.parseInt(f.getFileName().toString());
        }
      }
    }
    if (target < 0) {
      throw new IOException("process " + pid + " holds no /dev/fuse");
    }
    try {
      long pidfd = (long) SYSCALL.invokeExact(SYS_PIDFD_OPEN, pid, 0L, 0L);
      if (pidfd < 0) {
        throw new IOException("pidfd_open(" + pid + ") failed");
      }
      long copy = (long) SYSCALL.invokeExact(SYS_PIDFD_GETFD, pidfd, (long) target, 0L);
      int ignored = (int) CLOSE.invokeExact((int) pidfd);
      if (copy < 0) {
        throw new IOException("pidfd_getfd(" + pid + ", " + target + ") failed");
      }
      return new FuseRequestTaker((int) copy);
    } catch (IOException e) {
      throw e;
    } catch (Throwable t) {
      throw new IOException(t);
    }
  }

  /**
   * Takes the next request off the connection (blocking, on a thread of its own) and returns its
   * opcode; the request stays unanswered.
   */
  int takeOne(Duration timeout) throws Exception {
    CompletableFuture<Integer> read = new CompletableFuture<>();
    Thread.ofPlatform()
        .daemon()
        .name("fuse-request-taker")
        .start(
            () -> {
              try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(BUFFER);
                long n = (long) READ.invokeExact(fd, buf, (long) BUFFER);
                if (n < 16) {
                  read.completeExceptionally(new IOException("read of /dev/fuse returned " + n));
                } else {
                  read.complete(buf.get(JAVA_INT, 4)); // fuse_in_header: len, opcode, unique...
                }
              } catch (Throwable t) {
                read.completeExceptionally(t);
              }
            });
    return read.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Closes the copy: with the client gone too, the connection ends. */
  @Override
  public void close() {
    try {
      int ignored = (int) CLOSE.invokeExact(fd);
    } catch (Throwable t) {
      throw new IllegalStateException(t);
    }
  }
}

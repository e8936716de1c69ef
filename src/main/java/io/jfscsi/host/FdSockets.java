package io.jfscsi.host;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Unix stream sockets that carry open file descriptors (SCM_RIGHTS), through glibc's socket calls
 * over FFM: Java's own {@code UnixDomainSocketAddress} channels cannot pass descriptors, and the
 * JuiceFS client hands its FUSE connection over exactly so. Every call throws {@link FdSocketError}
 * with the errno's text; a descriptor returned is the caller's to {@link #close}. Struct offsets
 * are those of 64-bit Linux glibc (x86_64 and aarch64).
 */
@SuppressWarnings("restricted") // the native access this class exists for; enabled at launch
public final class FdSockets {
  private FdSockets() {}

  /** A message on the socket: its payload bytes and the descriptors that came with it. */
  public record Message(byte[] payload, List<Integer> fds) {
    public String text() {
      return new String(payload, StandardCharsets.UTF_8);
    }
  }

  /** A socket call that failed, with its errno. */
  public static final class FdSocketError extends RuntimeException {
    private final int errno;

    FdSocketError(String call, String subject, int errno) {
      super(call + " " + subject + ": " + Libc.strerror(errno));
      this.errno = errno;
    }

    public int errno() {
      return errno;
    }
  }

  private static final int AF_UNIX = 1;
  private static final int SOCK_STREAM = 1;
  private static final int SOCK_CLOEXEC = 02000000;
  private static final int SOL_SOCKET = 1;
  private static final int SCM_RIGHTS = 1;
  private static final int SO_RCVTIMEO = 20;
  private static final int SO_SNDTIMEO = 21;
  private static final int SHUT_RDWR = 2;
  private static final int MSG_NOSIGNAL = 0x4000;
  private static final int MSG_CMSG_CLOEXEC = 0x40000000;
  private static final int EINTR = 4;

  /** sun_path of struct sockaddr_un holds 108 bytes with its terminating zero. */
  private static final int SUN_PATH = 108;

  private static final long SOCKADDR_UN = 2 + SUN_PATH;
  private static final long MSGHDR = 56;
  private static final long IOVEC = 16;
  private static final long CMSG_HEADER = 16;

  /** The most descriptors one message may carry here; the client sends two at most. */
  private static final int MAX_FDS = 4;

  private static final Linker LINKER = Linker.nativeLinker();
  private static final StructLayout CAPTURE = Linker.Option.captureStateLayout();
  private static final VarHandle ERRNO =
      CAPTURE.varHandle(MemoryLayout.PathElement.groupElement("errno"));
  private static final Linker.Option CAPTURE_ERRNO = Linker.Option.captureCallState("errno");

  private static final MethodHandle SOCKET =
      downcall("socket", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle BIND =
      downcall("bind", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle CONNECT =
      downcall("connect", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle LISTEN =
      downcall("listen", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle ACCEPT4 =
      downcall("accept4", FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT));
  private static final MethodHandle SENDMSG =
      downcall("sendmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle RECVMSG =
      downcall("recvmsg", FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT));
  private static final MethodHandle SHUTDOWN =
      downcall("shutdown", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT));
  private static final MethodHandle SETSOCKOPT =
      downcall(
          "setsockopt",
          FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT));

  private static MethodHandle downcall(String name, FunctionDescriptor descriptor) {
    return LINKER.downcallHandle(
        LINKER.defaultLookup().findOrThrow(name), descriptor, CAPTURE_ERRNO);
  }

  /** A socket listening at {@code path} (which must not exist; the caller removes an old one). */
  public static int listen(Path path) {
    int fd = socket();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment addr = address(arena, path);
      if ((int) BIND.invokeExact(errno, fd, addr, (int) SOCKADDR_UN) != 0) {
        throw failure("bind", path, errno);
      }
      if ((int) LISTEN.invokeExact(errno, fd, 16) != 0) {
        throw failure("listen", path, errno);
      }
      return fd;
    } catch (Throwable t) {
      Libc.close(fd);
      throw rethrow("bind", t);
    }
  }

  /** A socket connected to {@code path}. */
  public static int connect(Path path) {
    int fd = socket();
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      if ((int) CONNECT.invokeExact(errno, fd, address(arena, path), (int) SOCKADDR_UN) != 0) {
        throw failure("connect", path, errno);
      }
      return fd;
    } catch (Throwable t) {
      Libc.close(fd);
      throw rethrow("connect", t);
    }
  }

  /**
   * Waits for the next connection on {@code listening}; throws once the socket is {@link
   * #shutdown}.
   */
  public static int accept(int listening) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      while (true) {
        int fd =
            (int)
                ACCEPT4.invokeExact(
                    errno, listening, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
          return fd;
        }
        if (errnoOf(errno) != EINTR) {
          throw failure("accept", "socket " + listening, errno);
        }
      }
    } catch (Throwable t) {
      throw rethrow("accept", t);
    }
  }

  /**
   * Bounds every later send and receive on {@code fd}: a peer that goes silent frees the caller.
   */
  public static void timeout(int fd, Duration limit) {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment tv = arena.allocate(16, 8); // struct timeval: seconds, microseconds
      tv.set(JAVA_LONG, 0, limit.toSeconds());
      tv.set(JAVA_LONG, 8, limit.toMillisPart() * 1000L);
      for (int option : new int[] {SO_RCVTIMEO, SO_SNDTIMEO}) {
        if ((int) SETSOCKOPT.invokeExact(errno, fd, SOL_SOCKET, option, tv, 16) != 0) {
          throw failure("setsockopt", "socket " + fd, errno);
        }
      }
    } catch (Throwable t) {
      throw rethrow("setsockopt", t);
    }
  }

  /** One sendmsg(2): {@code payload} (at least one byte) with {@code fds} as SCM_RIGHTS. */
  public static void send(int socket, byte[] payload, List<Integer> fds) {
    if (payload.length == 0 || fds.size() > MAX_FDS) {
      throw new IllegalArgumentException("a message needs a payload and at most 4 descriptors");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment data = arena.allocateFrom(JAVA_BYTE, payload);
      MemorySegment iov = arena.allocate(IOVEC, 8);
      iov.set(ADDRESS, 0, data);
      iov.set(JAVA_LONG, 8, payload.length);
      MemorySegment msg = arena.allocate(MSGHDR, 8);
      msg.set(ADDRESS, 16, iov);
      msg.set(JAVA_LONG, 24, 1);
      if (!fds.isEmpty()) {
        long space = cmsgSpace(fds.size());
        MemorySegment control = arena.allocate(space, 8);
        control.set(JAVA_LONG, 0, CMSG_HEADER + 4L * fds.size());
        control.set(JAVA_INT, 8, SOL_SOCKET);
        control.set(JAVA_INT, 12, SCM_RIGHTS);
        for (int i = 0; i < fds.size(); i++) {
          control.set(JAVA_INT, CMSG_HEADER + 4L * i, fds.get(i));
        }
        msg.set(ADDRESS, 32, control);
        msg.set(JAVA_LONG, 40, space);
      }
      while (true) {
        long sent = (long) SENDMSG.invokeExact(errno, socket, msg, MSG_NOSIGNAL);
        if (sent >= 0) {
          return;
        }
        if (errnoOf(errno) != EINTR) {
          throw failure("sendmsg", "socket " + socket, errno);
        }
      }
    } catch (Throwable t) {
      throw rethrow("sendmsg", t);
    }
  }

  /**
   * One recvmsg(2) of at most {@code maxPayload} bytes and {@code maxFds} descriptors (close on
   * exec); descriptors beyond {@code maxFds} are closed by the kernel. An empty payload with no
   * descriptor means the peer closed the connection.
   */
  public static Message receive(int socket, int maxPayload, int maxFds) {
    if (maxFds < 1 || maxFds > MAX_FDS) {
      throw new IllegalArgumentException("between 1 and 4 descriptors");
    }
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      MemorySegment data = arena.allocate(maxPayload);
      MemorySegment iov = arena.allocate(IOVEC, 8);
      iov.set(ADDRESS, 0, data);
      iov.set(JAVA_LONG, 8, maxPayload);
      long space = cmsgSpace(maxFds);
      MemorySegment control = arena.allocate(space, 8);
      MemorySegment msg = arena.allocate(MSGHDR, 8);
      msg.set(ADDRESS, 16, iov);
      msg.set(JAVA_LONG, 24, 1);
      msg.set(ADDRESS, 32, control);
      msg.set(JAVA_LONG, 40, space);
      long n;
      while (true) {
        n = (long) RECVMSG.invokeExact(errno, socket, msg, MSG_CMSG_CLOEXEC);
        if (n >= 0) {
          break;
        }
        if (errnoOf(errno) != EINTR) {
          throw failure("recvmsg", "socket " + socket, errno);
        }
      }
      byte[] payload = Arrays.copyOf(data.toArray(JAVA_BYTE), (int) n);
      return new Message(payload, rights(control, msg.get(JAVA_LONG, 40)));
    } catch (Throwable t) {
      throw rethrow("recvmsg", t);
    }
  }

  /** Wakes a thread blocked in {@link #accept} or {@link #receive} on {@code fd} with an error. */
  public static void shutdown(int fd) {
    try (Arena arena = Arena.ofConfined()) {
      int ignored = (int) SHUTDOWN.invokeExact(arena.allocate(CAPTURE), fd, SHUT_RDWR);
    } catch (Throwable t) {
      throw rethrow("shutdown", t);
    }
  }

  /** A read-only descriptor of {@code path}, closed on exec. */
  public static int openReadOnly(Path path) {
    int fd = Libc.openat2(Libc.AT_FDCWD, path.toString(), Libc.O_CLOEXEC, 0);
    if (fd < 0) {
      throw new FdSocketError("open", path.toString(), -fd);
    }
    return fd;
  }

  public static void close(int fd) {
    if (fd >= 0) {
      Libc.close(fd);
    }
  }

  /** Every descriptor in the SCM_RIGHTS messages of {@code control} ({@code length} bytes). */
  private static List<Integer> rights(MemorySegment control, long length) {
    List<Integer> fds = new ArrayList<>();
    long at = 0;
    while (at + CMSG_HEADER <= length) {
      long len = control.get(JAVA_LONG, at);
      if (len < CMSG_HEADER) {
        break;
      }
      if (control.get(JAVA_INT, at + 8) == SOL_SOCKET
          && control.get(JAVA_INT, at + 12) == SCM_RIGHTS) {
        for (long i = CMSG_HEADER; i + 4 <= len; i += 4) {
          fds.add(control.get(JAVA_INT, at + i));
        }
      }
      at += (len + 7) & ~7L;
    }
    return fds;
  }

  private static long cmsgSpace(int fds) {
    return CMSG_HEADER + ((4L * fds + 7) & ~7L);
  }

  private static int socket() {
    try (Arena arena = Arena.ofConfined()) {
      MemorySegment errno = arena.allocate(CAPTURE);
      int fd = (int) SOCKET.invokeExact(errno, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
      if (fd < 0) {
        throw failure("socket", "AF_UNIX", errno);
      }
      return fd;
    } catch (Throwable t) {
      throw rethrow("socket", t);
    }
  }

  private static MemorySegment address(Arena arena, Path path) {
    byte[] name = path.toString().getBytes(StandardCharsets.UTF_8);
    if (name.length >= SUN_PATH) {
      throw new IllegalArgumentException(
          "socket path " + path + " is longer than a Unix socket address allows (107 bytes)");
    }
    MemorySegment addr = arena.allocate(SOCKADDR_UN, 2);
    addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
    MemorySegment.copy(name, 0, addr, JAVA_BYTE, 2, name.length);
    return addr;
  }

  private static FdSocketError failure(String call, Object subject, MemorySegment capture) {
    return new FdSocketError(call, String.valueOf(subject), errnoOf(capture));
  }

  private static int errnoOf(MemorySegment capture) {
    int errno = (int) ERRNO.get(capture, 0L);
    return errno == 0 ? Libc.EIO : errno;
  }

  private static RuntimeException rethrow(String call, Throwable t) {
    if (t instanceof RuntimeException r) {
      return r;
    }
    if (t instanceof Error e) {
      throw e;
    }
    return new IllegalStateException("native call " + call + " failed to run", t);
  }
}

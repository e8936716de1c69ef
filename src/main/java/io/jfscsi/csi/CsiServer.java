package io.jfscsi.csi;

import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.netty.shaded.io.grpc.netty.NettyServerBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The gRPC server kubelet talks to. On a Unix socket: a stale socket file left by a dead driver is
 * replaced, a live one is refused, the socket is readable and writable by its owner and group only,
 * and closing lets in-flight calls finish before the file is removed. Closing never touches clients
 * or mounts.
 */
public final class CsiServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(CsiServer.class);

  private final Server server;
  private final Endpoint endpoint;
  private final EventLoopGroup boss;
  private final EventLoopGroup workers;
  private final Duration grace;

  private CsiServer(
      Server server,
      Endpoint endpoint,
      EventLoopGroup boss,
      EventLoopGroup workers,
      Duration grace) {
    this.server = server;
    this.endpoint = endpoint;
    this.boss = boss;
    this.workers = workers;
    this.grace = grace;
  }

  public static CsiServer start(
      Endpoint endpoint, List<ServerServiceDefinition> services, Duration grace)
      throws IOException {
    NettyServerBuilder builder;
    EventLoopGroup boss = null;
    EventLoopGroup workers = null;
    switch (endpoint) {
      case Endpoint.Unix(Path path) -> {
        prepareSocketPath(path);
        boss = new EpollEventLoopGroup(1);
        workers = new EpollEventLoopGroup(Math.max(2, Runtime.getRuntime().availableProcessors()));
        builder =
            NettyServerBuilder.forAddress(new DomainSocketAddress(path.toString()))
                .channelType(EpollServerDomainSocketChannel.class)
                .bossEventLoopGroup(boss)
                .workerEventLoopGroup(workers);
      }
      case Endpoint.Tcp tcp -> builder = NettyServerBuilder.forAddress(tcp.address());
    }
    // Every handler validates its request (no call that can wait on a FUSE client, see
    // RequestChecks) and sends one message to an actor, so it runs on the transport thread that
    // read the request: a hand-off to grpc-java's executor would add a thread wake-up per call.
    builder.directExecutor();
    services.forEach(builder::addService);
    Server server = builder.build().start();
    if (endpoint instanceof Endpoint.Unix(Path path)) {
      Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-rw----"));
    }
    log.info("CSI server listening on {}", describe(endpoint));
    return new CsiServer(server, endpoint, boss, workers, grace);
  }

  /** A socket file that nobody answers on is a leftover of a dead driver: replace it. */
  private static void prepareSocketPath(Path path) throws IOException {
    Files.createDirectories(path.getParent());
    if (!Files.exists(path)) {
      return;
    }
    boolean live;
    try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
      live = probe.connect(UnixDomainSocketAddress.of(path));
    } catch (IOException e) {
      live = false;
    }
    if (live) {
      throw new IOException("another process is serving " + path + "; refusing to replace it");
    }
    log.info("replacing stale socket {}", path);
    Files.delete(path);
  }

  public int port() {
    return server.getPort();
  }

  @Override
  public void close() {
    server.shutdown();
    try {
      if (!server.awaitTermination(grace.toMillis(), TimeUnit.MILLISECONDS)) {
        server.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      server.shutdownNow();
    }
    if (boss != null) {
      boss.shutdownGracefully(0, 1, TimeUnit.SECONDS);
      workers.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
    if (endpoint instanceof Endpoint.Unix(Path path)) {
      try {
        Files.deleteIfExists(path);
      } catch (IOException e) {
        log.warn("cannot remove socket {}: {}", path, e.getMessage());
      }
    }
    log.info("CSI server on {} stopped", describe(endpoint));
  }

  private static String describe(Endpoint endpoint) {
    return switch (endpoint) {
      case Endpoint.Unix(Path path) -> "unix://" + path;
      case Endpoint.Tcp tcp -> "tcp://" + tcp.host() + ":" + tcp.port();
    };
  }
}

package io.jfscsi.csi;

import csi.v1.ControllerGrpc;
import csi.v1.IdentityGrpc;
import csi.v1.NodeGrpc;
import io.grpc.ManagedChannel;
import io.grpc.netty.shaded.io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.shaded.io.netty.channel.EventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollDomainSocketChannel;
import io.grpc.netty.shaded.io.netty.channel.epoll.EpollEventLoopGroup;
import io.grpc.netty.shaded.io.netty.channel.unix.DomainSocketAddress;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

/**
 * A plaintext HTTP/2 gRPC channel to a CSI endpoint, the way kubelet connects: used by the
 * command-line client, the benchmarks and the wire tests.
 */
public final class CsiClient implements AutoCloseable {

  private final ManagedChannel channel;
  private final EventLoopGroup group;

  private CsiClient(ManagedChannel channel, EventLoopGroup group) {
    this.channel = channel;
    this.group = group;
  }

  public static CsiClient connect(String endpoint) {
    return switch (Endpoint.parse(endpoint)) {
      case Endpoint.Unix(Path path) -> {
        EventLoopGroup group = new EpollEventLoopGroup(2);
        ManagedChannel channel =
            NettyChannelBuilder.forAddress(new DomainSocketAddress(path.toString()))
                .channelType(EpollDomainSocketChannel.class)
                .eventLoopGroup(group)
                .usePlaintext()
                // kubelet sends the socket path as :authority; any plain name works.
                .overrideAuthority("localhost")
                .build();
        yield new CsiClient(channel, group);
      }
      case Endpoint.Tcp tcp ->
          new CsiClient(NettyChannelBuilder.forAddress(tcp.address()).usePlaintext().build(), null);
    };
  }

  public IdentityGrpc.IdentityBlockingStub identity() {
    return IdentityGrpc.newBlockingStub(channel);
  }

  public NodeGrpc.NodeBlockingStub node() {
    return NodeGrpc.newBlockingStub(channel);
  }

  public NodeGrpc.NodeFutureStub nodeAsync() {
    return NodeGrpc.newFutureStub(channel);
  }

  public ControllerGrpc.ControllerBlockingStub controller() {
    return ControllerGrpc.newBlockingStub(channel);
  }

  public ManagedChannel channel() {
    return channel;
  }

  @Override
  public void close() {
    channel.shutdown();
    try {
      channel.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (group != null) {
      group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
  }
}

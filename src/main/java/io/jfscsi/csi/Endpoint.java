package io.jfscsi.csi;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.file.Path;

/**
 * Where the CSI server listens: {@code unix:///path/csi.sock} (what kubelet uses) or, for
 * debugging, {@code tcp://host:port}.
 */
public sealed interface Endpoint {

  record Unix(Path path) implements Endpoint {}

  record Tcp(String host, int port) implements Endpoint {
    SocketAddress address() {
      return new InetSocketAddress(host, port);
    }
  }

  static Endpoint parse(String text) {
    if (text.startsWith("unix://")) {
      String path = text.substring("unix://".length());
      if (!path.startsWith("/")) {
        throw new IllegalArgumentException(
            "endpoint " + text + ": the socket path must be absolute (unix:///path/csi.sock)");
      }
      return new Unix(Path.of(path));
    }
    if (text.startsWith("/")) {
      return new Unix(Path.of(text));
    }
    if (text.startsWith("tcp://")) {
      String hostPort = text.substring("tcp://".length());
      int colon = hostPort.lastIndexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException("endpoint " + text + ": expected tcp://host:port");
      }
      return new Tcp(hostPort.substring(0, colon), Integer.parseInt(hostPort.substring(colon + 1)));
    }
    throw new IllegalArgumentException(
        "endpoint " + text + ": expected unix:///path/csi.sock or tcp://host:port");
  }
}

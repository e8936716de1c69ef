package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.jfscsi.testing.KubeCluster;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import org.junit.jupiter.api.Test;

/**
 * The node's informers survive an API server that does not answer when the node plugin starts (seen
 * on a loaded node: the first list timed out, fabric8 stopped the informer, and the node plugin
 * stayed unready for good): they list again until it answers.
 */
class ApiServerLateTest {

  @Test
  void theMountPodCacheFillsOnceTheApiServerAnswers() throws Exception {
    KubeCluster cluster = KubeCluster.shared();
    String ns = cluster.newNamespace("late");
    int port;
    try (ServerSocket probe = new ServerSocket(0)) {
      port = probe.getLocalPort(); // nothing listens here until the proxy below starts
    }
    try (KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(
                new ConfigBuilder(cluster.config())
                    .withMasterUrl("https://127.0.0.1:" + port)
                    .withRequestTimeout(2_000)
                    .build())
            .build()) {
      MountPodWatch pods = new MountPodWatch(client, ns, "node-" + ns);
      NodeAppPods apps =
          new NodeAppPods(
              client, "node-" + ns, java.time.Duration.ZERO, java.time.Clock.systemUTC());
      Thread.sleep(3_000); // the first lists fail: connection refused
      assertThat(pods.synced()).isFalse();
      URI api = URI.create(cluster.masterUrl());
      try (ServerSocket proxy = new ServerSocket()) {
        proxy.bind(new InetSocketAddress("127.0.0.1", port));
        Thread.ofVirtual().start(() -> forward(proxy, api.getHost(), api.getPort()));
        pods.awaitSynced(); // up to a minute
        org.awaitility.Awaitility.await()
            .atMost(java.time.Duration.ofSeconds(60))
            .until(apps::synced);
      }
    }
  }

  /** Accepts connections on {@code proxy} and pipes each to host:port both ways. */
  private static void forward(ServerSocket proxy, String host, int port) {
    while (!proxy.isClosed()) {
      try {
        Socket in = proxy.accept();
        Socket out = new Socket(host, port);
        Thread.ofVirtual().start(() -> pipe(in, out));
        Thread.ofVirtual().start(() -> pipe(out, in));
      } catch (IOException e) {
        return;
      }
    }
  }

  private static void pipe(Socket from, Socket to) {
    try (InputStream i = from.getInputStream();
        OutputStream o = to.getOutputStream()) {
      i.transferTo(o);
    } catch (IOException e) {
      // one side closed
    } finally {
      try {
        from.close();
        to.close();
      } catch (IOException e) {
        // already closed
      }
    }
  }
}

package io.jfscsi.webhook;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTPS for the sidecar webhook: POST {@link SidecarWebhook#PATH} with an AdmissionReview, answered
 * by the handler. The JDK's server: one path, a few requests a second at most, and nothing of
 * Pekko's to share (the handler only reads and writes the API).
 */
public final class WebhookServer implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(WebhookServer.class);

  /** The API server sends at most 3 MiB objects; a body above this is not a review. */
  static final int MAX_BODY = 8 << 20;

  private final HttpsServer server;
  private final ExecutorService executor;

  private WebhookServer(HttpsServer server, ExecutorService executor) {
    this.server = server;
    this.executor = executor;
  }

  /** Serves {@code handler} on {@code address} (port 0: any free port). */
  public static WebhookServer start(
      InetSocketAddress address, WebhookTls tls, UnaryOperator<String> handler) throws IOException {
    HttpsServer server = HttpsServer.create(address, 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls.sslContext()));
    server.createContext(SidecarWebhook.PATH, exchange -> answer(exchange, handler));
    // Virtual threads: a slow API read holds no platform thread.
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    server.setExecutor(executor);
    server.start();
    log.info(
        "sidecar webhook serving https://{}:{}{}",
        address.getHostString(),
        server.getAddress().getPort(),
        SidecarWebhook.PATH);
    return new WebhookServer(server, executor);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private static void answer(HttpExchange exchange, UnaryOperator<String> handler)
      throws IOException {
    try (exchange) {
      if (!"POST".equals(exchange.getRequestMethod())
          || !SidecarWebhook.PATH.equals(exchange.getRequestURI().getPath())) {
        exchange.sendResponseHeaders(404, -1);
        return;
      }
      byte[] body;
      try (InputStream in = exchange.getRequestBody()) {
        body = in.readNBytes(MAX_BODY + 1);
      }
      if (body.length > MAX_BODY) {
        exchange.sendResponseHeaders(413, -1);
        return;
      }
      byte[] out =
          handler.apply(new String(body, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, out.length);
      try (OutputStream os = exchange.getResponseBody()) {
        os.write(out);
      }
    } catch (RuntimeException e) {
      log.warn("sidecar webhook: answering failed: {}", e.toString());
      throw e;
    }
  }

  @Override
  public void close() {
    server.stop(1);
    executor.shutdown();
  }
}

package io.jfscsi.webhook;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.UnaryOperator;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * HTTPS for the sidecar webhooks: POST an AdmissionReview to one of the routes' paths ({@link
 * SidecarWebhook#PATH}, {@link SidecarWebhook#SERVERLESS_PATH}), answered by that route's handler.
 * The JDK's server: two paths, a few requests a second at most, and nothing of Pekko's to share
 * (the handlers only read and write the API).
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

  /** Serves {@code handler} at {@link SidecarWebhook#PATH} on {@code address} (0: any port). */
  public static WebhookServer start(
      InetSocketAddress address, WebhookTls tls, UnaryOperator<String> handler) throws IOException {
    return start(address, tls, Map.of(SidecarWebhook.PATH, handler));
  }

  /** Serves each of {@code routes} (path to handler) on {@code address} (port 0: any free port). */
  public static WebhookServer start(
      InetSocketAddress address, WebhookTls tls, Map<String, UnaryOperator<String>> routes)
      throws IOException {
    HttpsServer server = HttpsServer.create(address, 0);
    server.setHttpsConfigurator(new HttpsConfigurator(tls.sslContext()));
    routes.forEach(
        (path, handler) -> server.createContext(path, exchange -> answer(exchange, path, handler)));
    // Virtual threads: a slow API read holds no platform thread.
    ExecutorService executor = Executors.newVirtualThreadPerTaskExecutor();
    server.setExecutor(executor);
    server.start();
    log.info(
        "sidecar webhook serving https://{}:{} at {}",
        address.getHostString(),
        server.getAddress().getPort(),
        routes.keySet().stream().sorted().toList());
    return new WebhookServer(server, executor);
  }

  public int port() {
    return server.getAddress().getPort();
  }

  private static void answer(HttpExchange exchange, String path, UnaryOperator<String> handler)
      throws IOException {
    try (exchange) {
      // A context matches by prefix: only its exact path is the webhook.
      if (!"POST".equals(exchange.getRequestMethod())
          || !path.equals(exchange.getRequestURI().getPath())) {
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

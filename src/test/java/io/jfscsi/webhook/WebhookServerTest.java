package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.cert.CertificateFactory;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLHandshakeException;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The webhook over real HTTPS, as the API server calls it: a certificate of the driver's own CA
 * (trusted through the caBundle it reports) or one from {@code --webhook-cert-dir} made by openssl,
 * and the AdmissionReview answered at the Go driver's path.
 */
class WebhookServerTest {
  @TempDir Path dir;

  static HttpClient trusting(String caPem) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    int i = 0;
    for (var cert :
        CertificateFactory.getInstance("X.509")
            .generateCertificates(
                new ByteArrayInputStream(caPem.getBytes(StandardCharsets.UTF_8)))) {
      trust.setCertificateEntry("ca-" + i++, cert);
    }
    TrustManagerFactory tmf =
        TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), null);
    return HttpClient.newBuilder().sslContext(ssl).build();
  }

  static HttpResponse<String> post(HttpClient http, int port, String path, String body)
      throws Exception {
    return http.send(
        HttpRequest.newBuilder(URI.create("https://127.0.0.1:" + port + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body))
            .build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** A review the handler answers without reading the API (the pod opts out). */
  static String optedOut() throws IOException {
    return SidecarInjectionTest.reviewJson()
        .replace(
            "{\"app\": \"web\"}",
            "{\"app\": \"web\", \"" + SidecarInjection.DISABLE_LABEL + "\": \"true\"}");
  }

  @Test
  void aCertificateOfItsOwnCaIsTrustedThroughTheCaBundleItReports() throws Exception {
    WebhookTls tls =
        WebhookTls.selfMade(
            WebhookTls.serviceNames("juicefs-admission-webhook", "kube-system"),
            List.of("127.0.0.1"));
    assertThat(tls.caBundlePem())
        .hasValueSatisfying(p -> assertThat(p).startsWith("-----BEGIN CERTIFICATE-----"));
    SidecarWebhook handler =
        new SidecarWebhook(null, "csi.juicefs.com", SidecarInjectionTest.CONFIG);
    try (WebhookServer server =
        WebhookServer.start(new InetSocketAddress("127.0.0.1", 0), tls, handler::handle)) {
      HttpClient http = trusting(tls.caBundlePem().get());
      HttpResponse<String> answer = post(http, server.port(), SidecarWebhook.PATH, optedOut());
      assertThat(answer.statusCode()).isEqualTo(200);
      assertThat(answer.headers().firstValue("Content-Type")).contains("application/json");
      assertThat(answer.body())
          .contains("\"kind\":\"AdmissionReview\"")
          .contains("\"uid\":\"705ab4f5-6393-11e8-b7cc-42010a800002\"")
          .contains("\"allowed\":true")
          .doesNotContain("patch");

      HttpResponse<String> garbage = post(http, server.port(), SidecarWebhook.PATH, "{\"x\":1}");
      assertThat(garbage.body()).contains("\"allowed\":false").contains("no request with a uid");
      assertThat(post(http, server.port(), "/other", optedOut()).statusCode()).isEqualTo(404);

      // A client that trusts another CA does not get through.
      HttpClient other =
          trusting(
              WebhookTls.selfMade(List.of("x"), List.of("127.0.0.1")).caBundlePem().orElseThrow());
      assertThatThrownBy(() -> post(other, server.port(), SidecarWebhook.PATH, optedOut()))
          .isInstanceOf(SSLHandshakeException.class);
    }
  }

  @Test
  void aCertificateFromTheCertDirIsServedWhateverItsKeyFormat() throws Exception {
    for (String keyCommand :
        List.of(
            "openssl genrsa -traditional -out tls.key 2048", // PKCS#1
            "openssl ecparam -name prime256v1 -genkey -noout -out tls.key", // SEC1
            "openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out tls.key")) { // PKCS#8
      Path certs = Files.createTempDirectory(dir, "certs");
      run(certs, keyCommand);
      run(
          certs,
          "openssl req -x509 -new -key tls.key -out tls.crt -days 1 -subj /CN=127.0.0.1"
              + " -addext subjectAltName=IP:127.0.0.1");
      WebhookTls tls = WebhookTls.fromDirectory(certs);
      assertThat(tls.caBundlePem()).isEmpty();
      SidecarWebhook handler =
          new SidecarWebhook(null, "csi.juicefs.com", SidecarInjectionTest.CONFIG);
      try (WebhookServer server =
          WebhookServer.start(new InetSocketAddress("127.0.0.1", 0), tls, handler::handle)) {
        HttpResponse<String> answer =
            post(
                trusting(Files.readString(certs.resolve("tls.crt"))),
                server.port(),
                SidecarWebhook.PATH,
                optedOut());
        assertThat(answer.body()).as(keyCommand).contains("\"allowed\":true");
      }
    }
    Path empty = Files.createTempDirectory(dir, "empty");
    assertThatThrownBy(() -> WebhookTls.fromDirectory(empty))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("must hold tls.crt and tls.key");
  }

  private static void run(Path dir, String command) throws Exception {
    Process p =
        new ProcessBuilder("sh", "-c", command)
            .directory(dir.toFile())
            .redirectErrorStream(true)
            .start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor()).as(command + ": " + out).isZero();
  }
}

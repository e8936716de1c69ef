package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.Logs;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/** Management HTTP on a real driver: real socket, real FUSE clients, real mounts. */
@SuppressWarnings("unchecked")
class DriverManagementTest {

  @TempDir Path dir;

  DriverFixture fixture;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    fixture = new DriverFixture(dir);
    Files.createDirectories(fixture.data.resolve("pvc-1"));
  }

  @AfterEach
  void tearDown() throws Exception {
    fixture.close();
  }

  Http http() {
    return new Http(fixture.driver().managementPort().orElseThrow());
  }

  @Test
  void routesAndMetricsFollowPublishAndUnpublish() throws Exception {
    fixture.start();
    Http http = http();
    assertThat(http.get("/alive").statusCode()).isEqualTo(200);
    assertThat(http.get("/ready").statusCode()).isEqualTo(200);
    assertThat(http.get("/clients").body()).isEqualTo("[]");

    Path a = fixture.target("pod-a", "pvc-1");
    Path b = fixture.target("pod-b", "pvc-1");
    fixture.publish("pvc-1", a);
    fixture.publish("pvc-1", b);

    List<Map<String, Object>> clients = Http.list(http.get("/clients").body());
    assertThat(clients).hasSize(1);
    assertThat(clients.get(0))
        .containsEntry("volumeId", "pvc-1")
        .containsEntry("state", "READY")
        .containsEntry("restarts", 0L)
        .containsEntry("lastError", null)
        .containsEntry("deleteAt", null);
    assertThat(clients.get(0).get("handle")).isNotNull();
    assertThat(clients.get(0).get("mountPath").toString())
        .startsWith(dir.resolve("mnt").toString());
    assertThat((List<Object>) clients.get(0).get("targets"))
        .containsExactlyInAnyOrder(a.toString(), b.toString());
    Map<String, Object> volume = Http.map(http.get("/volumes/pvc-1").body());
    assertThat((List<Object>) volume.get("targets")).containsExactly(a.toString(), b.toString());

    String metrics = http.get("/metrics").body();
    assertThat(
            Http.sample(
                metrics, "jfscsi_csi_call_duration_seconds_count{rpc=\"NodePublishVolume\"}"))
        .isEqualTo(2);
    assertThat(Http.sample(metrics, "jfscsi_clients{state=\"READY\"}")).isEqualTo(1);
    assertThat(Http.sample(metrics, "jfscsi_references")).isEqualTo(2);
    assertThat(Http.sample(metrics, "jfscsi_client_restarts")).isEqualTo(0);
    assertThat(metrics).doesNotContain("jfscsi_csi_errors_total{");

    fixture.unpublish("pvc-1", a);
    fixture.unpublish("pvc-1", b);
    fixture.awaitNoClients();
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> http.get("/clients").body().equals("[]"));
    assertThat(http.get("/volumes/pvc-1").statusCode()).isEqualTo(404);
    metrics = http.get("/metrics").body();
    assertThat(
            Http.sample(
                metrics, "jfscsi_csi_call_duration_seconds_count{rpc=\"NodeUnpublishVolume\"}"))
        .isEqualTo(2);
    assertThat(Http.sample(metrics, "jfscsi_references")).isEqualTo(0);
  }

  @Test
  void aKilledClientsRecoveryIsCountedAndTimedInMetrics() throws Exception {
    fixture.with("client.restart-backoff.min", "100ms").start();
    Path a = fixture.target("pod-a", "pvc-1");
    fixture.publish("pvc-1", a);
    long pid = fixture.clientPids().getFirst();

    new ProcessBuilder("kill", "-9", Long.toString(pid)).start().waitFor();

    Awaitility.await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              String metrics = http().get("/metrics").body();
              assertThat(Http.sample(metrics, "jfscsi_client_recoveries_total")).isEqualTo(1);
              assertThat(Http.sample(metrics, "jfscsi_client_recovery_duration_seconds_count"))
                  .isEqualTo(1);
              assertThat(Http.sample(metrics, "jfscsi_client_recovery_duration_seconds_sum"))
                  .isGreaterThanOrEqualTo(0.1)
                  .isLessThan(20);
            });
    assertThat(Files.list(a)).isNotNull(); // the target answers again
  }

  @Test
  void aRefusedCallIsCountedByCodeAndLoggedWithItsVolumeAndTarget() throws Exception {
    Logger logger = (Logger) LoggerFactory.getLogger(CsiCallInterceptor.class);
    ListAppender<ILoggingEvent> lines = new ListAppender<>();
    lines.start();
    logger.addAppender(lines);
    try {
      fixture.start();
      Path a = fixture.target("pod-a", "pvc-1");
      assertThatThrownBy(
              () ->
                  fixture
                      .csi()
                      .node()
                      .nodePublishVolume(
                          fixture.publishRequest("pvc-1", a).clearVolumeCapability().build()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode().name()).isEqualTo("INVALID_ARGUMENT"));

      String metrics = http().get("/metrics").body();
      assertThat(
              Http.sample(
                  metrics,
                  "jfscsi_csi_errors_total{code=\"INVALID_ARGUMENT\","
                      + "rpc=\"NodePublishVolume\"}"))
          .isEqualTo(1);
      assertThat(
              Http.sample(
                  metrics, "jfscsi_csi_call_duration_seconds_count{rpc=\"NodePublishVolume\"}"))
          .isEqualTo(1);

      ILoggingEvent line =
          Logs.snapshot(lines).stream()
              .filter(
                  e ->
                      e.getFormattedMessage()
                          .startsWith("NodePublishVolume answered " + "INVALID_ARGUMENT"))
              .findFirst()
              .orElseThrow();
      assertThat(line.getMDCPropertyMap())
          .containsEntry("volume", "pvc-1")
          .containsEntry("target", a.toString());
      assertThat(line.getFormattedMessage()).doesNotContain("local://");
    } finally {
      logger.detachAppender(lines);
    }
  }

  @Test
  void stopsWithTheDriverAndCanBeTurnedOff() throws Exception {
    fixture.start();
    Http http = http();
    assertThat(http.get("/ready").statusCode()).isEqualTo(200);
    fixture.stopDriver();
    assertThatThrownBy(() -> http.get("/alive")).isInstanceOf(UncheckedIOException.class);

    fixture.with("management.enabled", false).start();
    assertThat(fixture.driver().managementPort()).isEmpty();
  }

  @Test
  void aTakenPortFailsTheStartAndSaysWhich() throws Exception {
    try (var taken = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      fixture.with("management.port", taken.getLocalPort());
      assertThatThrownBy(fixture::start)
          .isInstanceOf(IOException.class)
          .hasMessageContaining(
              "management HTTP cannot listen on 127.0.0.1:" + taken.getLocalPort());
      assertThat(fixture.socket).doesNotExist();
    }
  }
}

package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.jfscsi.mount.ClientRecovered;
import io.jfscsi.mount.ClientState;
import io.jfscsi.mount.ClientView;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class DriverMetricsTest {

  @Test
  void callsAreTimedAndErrorsCountedByCode() {
    DriverMetrics m = new DriverMetrics();
    m.recordCall("NodePublishVolume", Status.Code.OK, 20_000_000);
    m.recordCall("NodePublishVolume", Status.Code.INVALID_ARGUMENT, 1_000_000);
    m.recordCall("CreateVolume", Status.Code.OK, 3_000_000_000L);
    String text = m.scrape();
    assertThat(
            Http.sample(text, "jfscsi_csi_call_duration_seconds_count{rpc=\"NodePublishVolume\"}"))
        .isEqualTo(2);
    assertThat(
            Http.sample(
                text,
                "jfscsi_csi_call_duration_seconds_bucket{rpc=\"NodePublishVolume\",le=\"0.025\"}"))
        .isEqualTo(2);
    assertThat(
            Http.sample(
                text, "jfscsi_csi_call_duration_seconds_bucket{rpc=\"CreateVolume\",le=\"2.5\"}"))
        .isEqualTo(0);
    assertThat(Http.sample(text, "jfscsi_csi_call_duration_seconds_sum{rpc=\"CreateVolume\"}"))
        .isEqualTo(3.0);
    assertThat(
            Http.sample(
                text,
                "jfscsi_csi_errors_total{code=\"INVALID_ARGUMENT\",rpc=\"NodePublishVolume\"}"))
        .isEqualTo(1);
    assertThat(text).doesNotContain("code=\"OK\"");
  }

  @Test
  void clientGaugesFollowTheLastObservation() {
    DriverMetrics m = new DriverMetrics();
    assertThat(Http.sample(m.scrape(), "jfscsi_clients{state=\"READY\"}")).isEqualTo(0);
    m.observe(
        List.of(
            view("a", ClientState.READY, 2, 0),
            view("b", ClientState.READY, 1, 3),
            view("c", ClientState.BROKEN, 1, 1)));
    String text = m.scrape();
    assertThat(Http.sample(text, "jfscsi_clients{state=\"READY\"}")).isEqualTo(2);
    assertThat(Http.sample(text, "jfscsi_clients{state=\"BROKEN\"}")).isEqualTo(1);
    assertThat(Http.sample(text, "jfscsi_clients{state=\"STARTING\"}")).isEqualTo(0);
    assertThat(Http.sample(text, "jfscsi_references")).isEqualTo(4);
    assertThat(Http.sample(text, "jfscsi_client_restarts")).isEqualTo(4);
  }

  @Test
  void clientRecoveriesAreCountedAndTimed() {
    DriverMetrics m = new DriverMetrics();
    m.onClientRecovered(new ClientRecovered("pv-a-1", "pv-a", Duration.ofMillis(300), 3, 1));
    m.onClientRecovered(new ClientRecovered("pv-a-1", "pv-a", Duration.ofSeconds(4), 3, 2));
    String text = m.scrape();
    assertThat(Http.sample(text, "jfscsi_client_recoveries_total")).isEqualTo(2);
    assertThat(Http.sample(text, "jfscsi_client_recovery_duration_seconds_bucket{le=\"0.5\"}"))
        .isEqualTo(1);
    assertThat(Http.sample(text, "jfscsi_client_recovery_duration_seconds_sum")).isEqualTo(4.3);
  }

  @Test
  void kubernetesRequestsAreCountedByRequest() {
    DriverMetrics m = new DriverMetrics();
    Map<String, Long> counts = new TreeMap<>(Map.of("PATCH pods", 3L, "WATCH pods", 2L));
    m.countKubernetesRequests(() -> counts);
    assertThat(Http.sample(m.scrape(), "jfscsi_kubernetes_requests_total{request=\"PATCH pods\"}"))
        .isEqualTo(3);
    counts.put("PATCH pods", 4L);
    assertThat(Http.sample(m.scrape(), "jfscsi_kubernetes_requests_total{request=\"PATCH pods\"}"))
        .isEqualTo(4);
  }

  static ClientView view(String key, ClientState state, int targets, int restarts) {
    return new ClientView(
        key,
        "vol-" + key,
        state,
        "/mnt/" + key,
        "",
        Optional.of("1"),
        IntStream.range(0, targets).mapToObj(i -> "/t/" + key + i).toList(),
        Optional.empty(),
        restarts,
        Optional.empty());
  }
}

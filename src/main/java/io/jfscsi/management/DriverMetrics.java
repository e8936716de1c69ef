package io.jfscsi.management;

import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecoveryListener;
import io.jfscsi.mount.ClientRecovered;
import io.jfscsi.mount.ClientState;
import io.jfscsi.mount.ClientView;
import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Unit;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * The Prometheus metrics of one driver, in a registry of its own (two drivers in one JVM, as in
 * tests, do not mix their numbers).
 *
 * <ul>
 *   <li>{@code jfscsi_csi_call_duration_seconds{rpc}}: every CSI call, timed from the request to
 *       the answer, by gRPC method name ({@code NodePublishVolume}, {@code CreateVolume}, ...);
 *   <li>{@code jfscsi_csi_errors_total{rpc,code}}: calls that answered a status other than OK;
 *   <li>{@code jfscsi_clients{state}}: clients on this node in each {@link ClientState};
 *   <li>{@code jfscsi_references}: targets bound to those clients;
 *   <li>{@code jfscsi_client_restarts}: restarts after a crash, summed over the clients running now
 *       (a gauge: it drops when a client that had restarted exits);
 *   <li>{@code jfscsi_client_recoveries_total} and {@code jfscsi_client_recovery_duration_seconds}:
 *       clients that died and serve their targets again, and the time from the death being seen to
 *       every target bound again ({@link #onClientRecovered});
 *   <li>{@code jfscsi_container_recoveries_total{outcome}} and {@code
 *       jfscsi_container_recovery_duration_seconds}: containers whose private copy of a dead mount
 *       was replaced;
 *   <li>{@code jfscsi_kubernetes_requests_total{request}} (node, cluster mode) and {@code
 *       jfscsi_provisioner_leader} (controller with the built-in provisioner);
 *   <li>{@code jfscsi_config_last_load_success} and {@code jfscsi_config_loads_total{result}}
 *       (node, cluster mode): whether the newest version of the global ConfigMap is in force, and
 *       the versions accepted and refused ({@link #configLoads}).
 * </ul>
 *
 * The client gauges are computed at each scrape from the actors' own description of themselves
 * ({@link #observe} before {@link #scrape}).
 */
public final class DriverMetrics implements ContainerRecoveryListener {

  /** Buckets from a fast stat to a publish that waits for a slow client start. */
  private static final double[] CALL_BUCKETS = {
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120
  };

  private final PrometheusRegistry registry = new PrometheusRegistry();
  private final Histogram callDuration;
  private final Counter errors;
  private final Counter containerRecoveries;
  private final Histogram containerRecoveryDuration;
  private final Counter clientRecoveries;
  private final Histogram clientRecoveryDuration;
  private final AtomicReference<List<ClientView>> clients = new AtomicReference<>(List.of());

  public DriverMetrics() {
    callDuration =
        Histogram.builder()
            .name("jfscsi_csi_call_duration_seconds")
            .help("Time from a CSI request to its answer, by gRPC method")
            .unit(Unit.SECONDS)
            .labelNames("rpc")
            .classicOnly()
            .classicUpperBounds(CALL_BUCKETS)
            .register(registry);
    errors =
        Counter.builder()
            .name("jfscsi_csi_errors_total")
            .help("CSI calls that answered a status other than OK, by gRPC method and status code")
            .labelNames("rpc", "code")
            .register(registry);
    containerRecoveries =
        Counter.builder()
            .name("jfscsi_container_recoveries_total")
            .help(
                "Containers whose dead copy of a volume was replaced (or not) after a client "
                    + "restart, by outcome")
            .labelNames("outcome")
            .register(registry);
    containerRecoveryDuration =
        Histogram.builder()
            .name("jfscsi_container_recovery_duration_seconds")
            .help("Time to replace one container's dead copy of a volume")
            .unit(Unit.SECONDS)
            .classicOnly()
            .classicUpperBounds(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5)
            .register(registry);
    clientRecoveries =
        Counter.builder()
            .name("jfscsi_client_recoveries_total")
            .help("Clients that died and serve their targets again")
            .register(registry);
    clientRecoveryDuration =
        Histogram.builder()
            .name("jfscsi_client_recovery_duration_seconds")
            .help("Time from a client's death being seen to every one of its targets bound again")
            .unit(Unit.SECONDS)
            .classicOnly()
            .classicUpperBounds(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300)
            .register(registry);
    GaugeWithCallback.builder()
        .name("jfscsi_clients")
        .help("JuiceFS clients on this node, by state")
        .labelNames("state")
        .callback(
            cb -> {
              List<ClientView> now = clients.get();
              for (ClientState s : ClientState.values()) {
                cb.call(now.stream().filter(v -> v.state() == s).count(), s.name());
              }
            })
        .register(registry);
    GaugeWithCallback.builder()
        .name("jfscsi_references")
        .help("Targets (pod volume mounts) bound to the clients on this node")
        .callback(cb -> cb.call(clients.get().stream().mapToInt(v -> v.targets().size()).sum()))
        .register(registry);
    GaugeWithCallback.builder()
        .name("jfscsi_client_restarts")
        .help("Restarts after a crash, summed over the clients running now")
        .callback(cb -> cb.call(clients.get().stream().mapToInt(ClientView::restarts).sum()))
        .register(registry);
  }

  /** Times every call of a CSI service and counts its status; sets the log MDC around it. */
  public ServerInterceptor interceptor() {
    return new CsiCallInterceptor(this);
  }

  void recordCall(String rpc, Status.Code code, long nanos) {
    callDuration.labelValues(rpc).observe(nanos / 1e9);
    if (code != Status.Code.OK) {
      errors.labelValues(rpc, code.name()).inc();
    }
  }

  /** Counts each container recovery the host side reports (called on a mount actor's thread). */
  @Override
  public void onOutcome(ContainerOutcome outcome) {
    containerRecoveries.labelValues(outcome.recovered() ? "recovered" : "failed").inc();
    if (outcome.recovered()) {
      containerRecoveryDuration.observe(outcome.took().toNanos() / 1e9);
    }
  }

  /** Counts a client recovery the mount actors publish on the event stream. */
  public void onClientRecovered(ClientRecovered recovered) {
    clientRecoveries.inc();
    clientRecoveryDuration.observe(recovered.took().toNanos() / 1e9);
  }

  /**
   * Counts the node runtime's Kubernetes API requests at each scrape, as {@code
   * jfscsi_kubernetes_requests_total{request="PATCH pods"}} (method or WATCH, resource). Called
   * once, in cluster mode.
   */
  public void countKubernetesRequests(Supplier<Map<String, Long>> counts) {
    CounterWithCallback.builder()
        .name("jfscsi_kubernetes_requests_total")
        .help(
            "Requests the node's Mount Pod runtime sent to the API server, by method (WATCH for "
                + "watches) and resource")
        .labelNames("request")
        .callback(cb -> counts.get().forEach((request, n) -> cb.call(n, request)))
        .register(registry);
  }

  /**
   * Reports at each scrape whether this controller replica holds the provisioner's lease, as {@code
   * jfscsi_provisioner_leader} (1 or 0). Called once, when the built-in provisioner runs.
   */
  public void provisionerLeader(BooleanSupplier leading) {
    GaugeWithCallback.builder()
        .name("jfscsi_provisioner_leader")
        .help("1 while this controller replica holds the built-in provisioner's lease, else 0")
        .callback(cb -> cb.call(leading.getAsBoolean() ? 1 : 0))
        .register(registry);
  }

  /**
   * Reports at each scrape whether the newest version of the Go driver's global ConfigMap is in
   * force ({@code jfscsi_config_last_load_success}, 1, or 0 while it is refused and the last good
   * one serves) and how many versions were {@code accepted} and {@code refused} ({@code
   * jfscsi_config_loads_total{result}}). Called once, in cluster mode with the node role.
   */
  public void configLoads(BooleanSupplier lastLoadSucceeded, Supplier<Map<String, Long>> loads) {
    GaugeWithCallback.builder()
        .name("jfscsi_config_last_load_success")
        .help(
            "1 when the newest version of the global ConfigMap is in force, 0 while it is refused"
                + " (the last good one stays in force)")
        .callback(cb -> cb.call(lastLoadSucceeded.getAsBoolean() ? 1 : 0))
        .register(registry);
    CounterWithCallback.builder()
        .name("jfscsi_config_loads_total")
        .help("Versions of the global ConfigMap read by this node, by result (accepted, refused)")
        .labelNames("result")
        .callback(cb -> loads.get().forEach((result, n) -> cb.call(n, result)))
        .register(registry);
  }

  /** The clients the next scrape reports. */
  public void observe(List<ClientView> views) {
    clients.set(List.copyOf(views));
  }

  /** Every metric in the Prometheus text format (version 0.0.4). */
  public String scrape() {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try {
      PrometheusTextFormatWriter.create().write(out, registry.scrape());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return out.toString(StandardCharsets.UTF_8);
  }

  public static final String CONTENT_TYPE = PrometheusTextFormatWriter.CONTENT_TYPE;
}

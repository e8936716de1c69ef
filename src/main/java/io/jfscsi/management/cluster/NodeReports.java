package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.Failure;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.json.JsonMapper;

/**
 * What each node plugin says about its clients: its {@code GET /clients} on the management port
 * (the node plugin runs on the host network, deploy/base/node.yaml). This is how the controller
 * learns of a stale mount, which no API object records: a client BROKEN or RESTARTING on its node.
 */
final class NodeReports implements AutoCloseable {

  /** The management port of a node plugin whose pod names none (deploy/base's). */
  static final int DEFAULT_PORT = 9560;

  private static final Duration TIMEOUT = Duration.ofSeconds(3);
  private static final JsonMapper JSON = JsonMapper.builder().build();

  private final HttpClient http =
      HttpClient.newBuilder()
          .connectTimeout(TIMEOUT)
          .executor(Executors.newVirtualThreadPerTaskExecutor())
          .build();

  /** One node's answer; {@code error} set when it did not give one. */
  record NodeReport(
      String url, String page, List<Map<String, Object>> clients, Optional<String> error) {}

  @Override
  public void close() {
    http.close();
  }

  /** The driver's node plugin pods: the labels of deploy/base/node.yaml. */
  static boolean isNodePlugin(Pod pod) {
    Map<String, String> labels =
        Optional.ofNullable(pod.getMetadata().getLabels()).orElse(Map.of());
    return "jfs-csi".equals(labels.get("app.kubernetes.io/name"))
        && "node".equals(labels.get("app.kubernetes.io/component"));
  }

  /** Asks every running node plugin at once; by node name. Blocks up to the timeout. */
  Map<String, NodeReport> poll(List<Pod> plugins) {
    Map<String, CompletableFuture<NodeReport>> asked = new TreeMap<>();
    for (Pod pod : plugins) {
      String node = pod.getSpec().getNodeName();
      Optional<String> base = base(pod);
      if (node == null || base.isEmpty()) {
        continue; // not scheduled or not started: nothing to ask yet
      }
      asked.put(node, ask(base.get()));
    }
    Map<String, NodeReport> reports = new TreeMap<>();
    asked.forEach((node, answer) -> reports.put(node, answer.join()));
    return reports;
  }

  private CompletableFuture<NodeReport> ask(String base) {
    String url = base + "/clients";
    HttpRequest request = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).GET().build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.ofString())
        .thenApply(
            r -> {
              if (r.statusCode() != 200) {
                return failed(base, "HTTP " + r.statusCode() + ": " + r.body());
              }
              List<Map<String, Object>> clients =
                  JSON.readValue(r.body(), new TypeReference<List<Map<String, Object>>>() {});
              return new NodeReport(url, base + "/", clients, Optional.empty());
            })
        .exceptionally(
            e -> {
              Throwable cause = Failure.unwrap(e);
              return failed(base, Objects.toString(cause.getMessage(), cause.toString()));
            });
  }

  private static NodeReport failed(String base, String error) {
    return new NodeReport(base + "/clients", base + "/", List.of(), Optional.of(error));
  }

  /** http://ADDRESS:PORT of the pod's management server, when it has an address. */
  static Optional<String> base(Pod pod) {
    if (pod.getStatus() == null || !"Running".equals(pod.getStatus().getPhase())) {
      return Optional.empty();
    }
    String address =
        Optional.ofNullable(pod.getStatus().getPodIP()).orElse(pod.getStatus().getHostIP());
    if (address == null || address.isEmpty()) {
      return Optional.empty();
    }
    int port =
        pod.getSpec().getContainers().stream()
            .flatMap(c -> Optional.ofNullable(c.getPorts()).orElse(List.of()).stream())
            .filter(p -> "management".equals(p.getName()))
            .map(ContainerPort::getContainerPort)
            .filter(Objects::nonNull)
            .findFirst()
            .orElse(DEFAULT_PORT);
    String host = address.contains(":") ? "[" + address + "]" : address;
    return Optional.of("http://" + host + ":" + port);
  }
}

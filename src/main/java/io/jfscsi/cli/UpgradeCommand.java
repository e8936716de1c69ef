package io.jfscsi.cli;

import io.jfscsi.management.NodeUpgrades;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.ObjectMapper;

/**
 * {@code jfs-csi upgrade <mount-pod> --recreate}: the Go driver's {@code juicefs-csi-driver
 * upgrade}, run where the node plugin runs (as the Go one is, through {@code kubectl exec}). It
 * asks that node plugin's management server ({@code POST /clients/upgrade/<pod>}, with the
 * management token) and prints its answer. {@code upgrade BATCH --recreate [--worker N]
 * [--ignore-error]} upgrades every client of that node ({@code POST /clients/upgrade}) and prints
 * the server's lines as they come; it succeeds when the last is {@code BATCH-SUCCESS}.
 */
@Command(
    name = "upgrade",
    mixinStandardHelpOptions = true,
    description =
        "Replace a Mount Pod's client (or, with BATCH, every Mount Pod's client of this node) by"
            + " one on the current image that takes over its FUSE connection (smooth upgrade;"
            + " JuiceFS CE >= 1.2.1). Run in the node plugin's container of the pod's node.")
final class UpgradeCommand implements Callable<Integer> {

  /** The Go driver's name for every Mount Pod of the node. */
  static final String BATCH = "BATCH";

  @Parameters(
      index = "0",
      description = "The Mount Pod to upgrade, or BATCH for every Mount Pod of this node.")
  String pod;

  @Option(
      names = "--worker",
      description =
          "BATCH: how many Mount Pods are upgraded at a time (1 to "
              + NodeUpgrades.MAX_WORKERS
              + "; default 1).")
  Integer worker;

  @Option(
      names = {"--ignore-error", "--ignoreError"},
      description =
          "BATCH: go on after a Mount Pod's upgrade failed (default: stop starting more).")
  boolean ignoreError;

  @Option(
      names = "--recreate",
      description =
          "Recreate the Mount Pod (the only upgrade built here; the Go driver's binary-only"
              + " upgrade without it is not).")
  boolean recreate;

  @Option(
      names = "--url",
      defaultValue = "http://127.0.0.1:9560",
      description = "The node plugin's management server (default: ${DEFAULT-VALUE}).")
  String url;

  @Option(
      names = "--token",
      defaultValue = "${env:JFS_CSI_MANAGEMENT_TOKEN}",
      description = "The management token (default: $JFS_CSI_MANAGEMENT_TOKEN).")
  String token;

  @Override
  public Integer call() throws Exception {
    if (!recreate) {
      System.err.println(
          "only the recreating upgrade is offered: run `jfs-csi upgrade "
              + pod
              + " --recreate`; a binary swapped inside the running pod would leave its spec"
              + " naming the old image, which the container's next restart brings back");
      return 2;
    }
    if (token == null || token.isBlank()) {
      System.err.println(
          "the node plugin's management token is needed: --token or JFS_CSI_MANAGEMENT_TOKEN"
              + " (jfs-csi.management.token)");
      return 2;
    }
    boolean batch = BATCH.equals(pod);
    if (!batch && (worker != null || ignoreError)) {
      System.err.println("--worker and --ignore-error are for `jfs-csi upgrade BATCH`");
      return 2;
    }
    if (batch) {
      return batch();
    }
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    url + "/clients/upgrade/" + URLEncoder.encode(pod, StandardCharsets.UTF_8)))
            .header("Authorization", "Bearer " + token.trim())
            .timeout(Duration.ofMinutes(11))
            .POST(HttpRequest.BodyPublishers.noBody())
            .build();
    HttpResponse<String> response;
    try (HttpClient http = HttpClient.newHttpClient()) {
      response = http.send(request, HttpResponse.BodyHandlers.ofString());
    }
    Map<?, ?> body;
    try {
      body = new ObjectMapper().readValue(response.body(), Map.class);
    } catch (Exception e) {
      body = Map.of("error", response.body());
    }
    if (response.statusCode() == 200) {
      System.out.println("POD-SUCCESS [" + pod + "] " + body.get("message"));
      return 0;
    }
    System.err.println("POD-FAIL [" + pod + "] " + body.get("error"));
    return 1;
  }

  /** Prints the batch's lines as they come; 0 when the last says BATCH-SUCCESS. */
  private int batch() throws Exception {
    HttpRequest request =
        HttpRequest.newBuilder(
                URI.create(
                    url
                        + "/clients/upgrade?worker="
                        + (worker == null ? 1 : worker)
                        + "&ignoreError="
                        + ignoreError))
            .header("Authorization", "Bearer " + token.trim())
            // Until the answer starts, which is at once; its lines then come for as long as the
            // batch runs.
            .timeout(Duration.ofMinutes(1))
            .POST(HttpRequest.BodyPublishers.noBody())
            .build();
    HttpResponse<Stream<String>> response;
    try (HttpClient http = HttpClient.newHttpClient()) {
      response = http.send(request, HttpResponse.BodyHandlers.ofLines());
      String last = "";
      try (Stream<String> lines = response.body()) {
        for (String line : (Iterable<String>) lines::iterator) {
          (response.statusCode() == 200 ? System.out : System.err).println(line);
          last = line;
        }
      }
      if (response.statusCode() != 200 && !last.startsWith("BATCH-FAIL")) {
        System.err.println("BATCH-FAIL the node plugin answered " + response.statusCode());
      }
      return response.statusCode() == 200 && last.startsWith("BATCH-SUCCESS") ? 0 : 1;
    }
  }
}

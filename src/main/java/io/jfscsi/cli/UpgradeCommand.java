package io.jfscsi.cli;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.ObjectMapper;

/**
 * {@code jfs-csi upgrade <mount-pod> --recreate}: the Go driver's {@code juicefs-csi-driver
 * upgrade}, run where the node plugin runs (as the Go one is, through {@code kubectl exec}). It
 * asks that node plugin's management server ({@code POST /clients/upgrade/<pod>}, with the
 * management token) and prints its answer.
 */
@Command(
    name = "upgrade",
    mixinStandardHelpOptions = true,
    description =
        "Replace a Mount Pod's client by one on the current image that takes over its FUSE"
            + " connection (smooth upgrade; JuiceFS CE >= 1.2.1). Run in the node plugin's"
            + " container of the pod's node.")
final class UpgradeCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "The Mount Pod to upgrade.")
  String pod;

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
          "only the recreating upgrade is built: run `jfs-csi upgrade "
              + pod
              + " --recreate`; a binary-only upgrade inside the running pod is not");
      return 2;
    }
    if (token == null || token.isBlank()) {
      System.err.println(
          "the node plugin's management token is needed: --token or JFS_CSI_MANAGEMENT_TOKEN"
              + " (jfs-csi.management.token)");
      return 2;
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
}

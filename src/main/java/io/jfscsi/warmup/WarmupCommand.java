package io.jfscsi.warmup;

import io.jfscsi.runtime.kube.KubeClients;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code jfs-csi warmup VOLUME_ID [PATH...]}: warms the cache of the client that serves the volume
 * on this node. The driver's management HTTP says which client that is and where it is mounted; the
 * paths are taken inside the volume's own directory (its subPath).
 *
 * <p>{@code jfs-csi warmup --pvc NS/NAME [PATH...]}: in a cluster, runs {@code juicefs warmup}
 * inside each Mount Pod that serves the PVC's volume (or only the one on {@code --node}).
 */
@Command(
    name = "warmup",
    mixinStandardHelpOptions = true,
    description =
        "Warm up the cache of the JuiceFS client serving a volume on this node "
            + "(juicefs warmup, or a read of every file for the embedded default).")
public final class WarmupCommand implements Callable<Integer> {

  @Parameters(
      paramLabel = "VOLUME_ID [PATH...]",
      description =
          "on a node: the volume (PV "
              + "handle), then paths inside it (default: all of it); with --pvc: only the paths")
  List<String> words = new ArrayList<>();

  @Option(
      names = "--pvc",
      paramLabel = "NAMESPACE/NAME",
      description = "warm the Mount Pods of this PVC's volume through the API")
  String pvc;

  @Option(names = "--node", description = "with --pvc: only the Mount Pod on this node")
  String node;

  /** With --pvc: which cluster. */
  @Mixin KubeClients.Options api;

  @Option(
      names = "--timeout",
      defaultValue = "3600",
      description = "with --pvc: seconds to wait for each Mount Pod (default: ${DEFAULT-VALUE})")
  long timeoutSeconds;

  @Option(
      names = "--management",
      defaultValue = "http://127.0.0.1:9567",
      description = "the node driver's management HTTP (default: ${DEFAULT-VALUE})")
  URI management;

  @Option(
      names = "--juicefs",
      description =
          "the juicefs binary (default: juicefs on PATH; " + "without one every file is read once)")
  String juicefs;

  @Option(names = "--threads", description = "juicefs warmup --threads")
  Integer threads;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    if (pvc != null) {
      return inMountPods();
    }
    if (words.isEmpty()) {
      throw new CommandLine.ParameterException(
          spec.commandLine(), "give a VOLUME_ID, or --pvc NAMESPACE/NAME");
    }
    Path root = servingRoot(management, words.getFirst());
    List<Path> resolved = Warmup.resolve(root, words.subList(1, words.size()));
    long start = System.nanoTime();
    Warmup.Result result =
        Warmup.run(
            resolved,
            Optional.ofNullable(juicefs).or(Warmup::juicefsOnPath),
            Optional.ofNullable(threads));
    var out = spec.commandLine().getOut();
    out.printf(
        "warmed %s (%s): %d files, %d bytes in %.2f s%n",
        resolved, result.how(), result.files(), result.bytes(), (System.nanoTime() - start) / 1e9);
    out.flush();
    return result.exitCode();
  }

  private int inMountPods() throws Exception {
    String namespace = pvc.contains("/") ? pvc.substring(0, pvc.indexOf('/')) : "default";
    String claim = pvc.substring(pvc.indexOf('/') + 1);
    var out = spec.commandLine().getOut();
    int worst = 0;
    try (var client = api.connect()) {
      MountPodWarmup warmup = new MountPodWarmup(client);
      for (MountPodWarmup.Plan plan :
          warmup.plan(
              namespace, claim, words, Optional.ofNullable(node), Optional.ofNullable(threads))) {
        out.printf(
            "%s/%s on node %s: %s%n",
            plan.namespace(), plan.pod(), plan.node(), String.join(" ", plan.argv()));
        out.flush();
        StringBuilder said = new StringBuilder();
        int code;
        try {
          code = warmup.run(plan, said, timeoutSeconds);
        } catch (RuntimeException e) {
          said.append("exec failed: ").append(e.getMessage());
          code = 1;
        }
        out.println(said.toString().strip());
        out.printf("exit code %d%n", code);
        out.flush();
        worst = Math.max(worst, code);
      }
    }
    return worst;
  }

  /** The mount point of a READY client of the volume joined with its subPath. */
  static Path servingRoot(URI management, String volumeId) throws Exception {
    HttpResponse<String> response;
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      response =
          http.send(
              HttpRequest.newBuilder(management.resolve("/volumes/" + volumeId))
                  .timeout(Duration.ofSeconds(10))
                  .build(),
              HttpResponse.BodyHandlers.ofString());
    }
    if (response.statusCode() == 404) {
      throw new IllegalStateException(
          "no client serves volume "
              + volumeId
              + " on this node: warm-up runs where a pod uses the volume");
    }
    if (response.statusCode() != 200) {
      throw new IllegalStateException(
          "the driver at "
              + management
              + " answered "
              + response.statusCode()
              + ": "
              + response.body());
    }
    JsonNode volume = JsonMapper.builder().build().readTree(response.body());
    for (JsonNode client : volume.get("clients")) {
      if ("READY".equals(client.get("state").asString())) {
        return Path.of(client.get("mountPath").asString())
            .resolve(client.get("subPath").asString());
      }
    }
    throw new IllegalStateException(
        "the client of volume " + volumeId + " is not ready: " + volume.get("clients"));
  }
}

package io.jfscsi.warmup;

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
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * {@code jfs-csi warmup VOLUME_ID [PATH...]}: warms the cache of the client that serves the
 * volume on this node. The driver's management HTTP says which client that is and where it is
 * mounted; the paths are taken inside the volume's own directory (its subPath).
 */
@Command(name = "warmup", mixinStandardHelpOptions = true,
    description = "Warm up the cache of the JuiceFS client serving a volume on this node "
        + "(juicefs warmup, or a read of every file for the embedded default).")
public final class WarmupCommand implements Callable<Integer> {

  @Parameters(index = "0", paramLabel = "VOLUME_ID", description = "the volume (PV handle)")
  String volumeId;

  @Parameters(index = "1..*", paramLabel = "PATH",
      description = "paths inside the volume (default: all of it)")
  List<String> paths = new ArrayList<>();

  @Option(names = "--management", defaultValue = "http://127.0.0.1:9567",
      description = "the node driver's management HTTP (default: ${DEFAULT-VALUE})")
  URI management;

  @Option(names = "--juicefs", description = "the juicefs binary (default: juicefs on PATH; "
      + "without one every file is read once)")
  String juicefs;

  @Option(names = "--threads", description = "juicefs warmup --threads")
  Integer threads;

  @CommandLine.Spec
  CommandLine.Model.CommandSpec spec;

  @Override
  public Integer call() throws Exception {
    Path root = servingRoot(management, volumeId);
    List<Path> resolved = Warmup.resolve(root, paths);
    long start = System.nanoTime();
    Warmup.Result result = Warmup.run(resolved,
        Optional.ofNullable(juicefs).or(Warmup::juicefsOnPath), Optional.ofNullable(threads));
    var out = spec.commandLine().getOut();
    out.printf("warmed %s (%s): %d files, %d bytes in %.2f s%n", resolved, result.how(),
        result.files(), result.bytes(), (System.nanoTime() - start) / 1e9);
    out.flush();
    return result.exitCode();
  }

  /** The mount point of a READY client of the volume joined with its subPath. */
  static Path servingRoot(URI management, String volumeId) throws Exception {
    HttpResponse<String> response;
    try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build()) {
      response = http.send(HttpRequest.newBuilder(management.resolve("/volumes/" + volumeId))
              .timeout(Duration.ofSeconds(10)).build(),
          HttpResponse.BodyHandlers.ofString());
    }
    if (response.statusCode() == 404) {
      throw new IllegalStateException("no client serves volume " + volumeId
          + " on this node: warm-up runs where a pod uses the volume");
    }
    if (response.statusCode() != 200) {
      throw new IllegalStateException("the driver at " + management + " answered "
          + response.statusCode() + ": " + response.body());
    }
    JsonNode volume = JsonMapper.builder().build().readTree(response.body());
    for (JsonNode client : volume.get("clients")) {
      if ("READY".equals(client.get("state").asString())) {
        return Path.of(client.get("mountPath").asString())
            .resolve(client.get("subPath").asString());
      }
    }
    throw new IllegalStateException("the client of volume " + volumeId + " is not ready: "
        + volume.get("clients"));
  }
}

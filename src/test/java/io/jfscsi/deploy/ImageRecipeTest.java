package io.jfscsi.deploy;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * deploy/Dockerfile (the recipe for users with a registry) and the driver image bin/build-images
 * makes for the real node describe the same image: the same entrypoint and command, the same Debian
 * packages, the same files, a Java 25 runtime where the Dockerfile's base keeps it. The one
 * intended difference: /usr/local/bin/juicefs is the stand-in (src/test/node/juicefs).
 */
class ImageRecipeTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path DOCKERFILE = Path.of("deploy/Dockerfile");

  private static Path archive;
  @TempDir static Path work;

  @BeforeAll
  static void build() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.require(
        Files.isRegularFile(Path.of("target/jfs-csi.jar")),
        "target/jfs-csi.jar for the driver image: ./mvnw -DskipTests package (bin/test does)");
    String cache = run(Path.of("."), "bin/build-images").strip();
    archive = Path.of(cache, "jfs-csi.tar");
  }

  @Test
  void image_has_the_dockerfiles_entrypoint_and_command() throws Exception {
    JsonNode config = imageConfig().get("config");
    List<String> dockerfile = finalStage();
    assertThat(strings(config.get("Entrypoint")))
        .isEqualTo(jsonArray(instruction(dockerfile, "ENTRYPOINT")));
    assertThat(strings(config.get("Cmd"))).isEqualTo(jsonArray(instruction(dockerfile, "CMD")));
    // eclipse-temurin keeps its Java in /opt/java/openjdk and puts it first on PATH.
    assertThat(strings(config.get("Env")))
        .anyMatch(e -> e.startsWith("PATH=/opt/java/openjdk/bin:"))
        .contains("JAVA_HOME=/opt/java/openjdk");
    assertThat(instruction(dockerfile, "FROM")).startsWith("eclipse-temurin:25-");
  }

  @Test
  void image_has_the_dockerfiles_packages_and_files() throws Exception {
    Path layer = onlyLayer();
    List<String> files = Arrays.asList(run(work, "tar", "-tzf", layer.toString()).split("\n"));
    List<String> dockerfile = finalStage();
    for (String destination : copyDestinations(dockerfile)) {
      assertThat(files).as("COPY destination " + destination).contains(destination.substring(1));
    }
    String release = run(work, "tar", "-xzOf", layer.toString(), "opt/java/openjdk/release");
    assertThat(release).contains("JAVA_VERSION=\"25");
    String dpkg = run(work, "tar", "-xzOf", layer.toString(), "var/lib/dpkg/status");
    List<String> packages = aptPackages(dockerfile);
    assertThat(packages).contains("fuse3", "bindfs");
    for (String p : packages) {
      assertThat(dpkg)
          .as("package " + p)
          .containsPattern(
              "(?m)^Package: " + Pattern.quote(p) + "\n(?:.+\n)*?Status: install ok installed");
    }
    // The stand-in in place of the JuiceFS client, where the Dockerfile puts the client.
    String juicefs = run(work, "tar", "-xzOf", layer.toString(), "usr/local/bin/juicefs");
    assertThat(juicefs).isEqualTo(Files.readString(Path.of("src/test/node/juicefs")));
    assertThat(Files.size(Path.of("target/jfs-csi.jar")))
        .isEqualTo(
            Long.parseLong(
                run(work, "sh", "-c", "tar -xzOf " + layer + " jfs-csi.jar | wc -c").strip()));
  }

  // ------------------------------------------------------------ the Dockerfile

  /** The lines of the last stage, continuation lines joined. */
  private static List<String> finalStage() throws IOException {
    String text = Files.readString(DOCKERFILE).replaceAll("\\\\\n", " ");
    List<String> lines = new ArrayList<>();
    for (String line : text.split("\n")) {
      String t = line.strip();
      if (t.isEmpty() || t.startsWith("#")) {
        continue;
      }
      if (t.startsWith("FROM ")) {
        lines.clear();
      }
      lines.add(t);
    }
    return lines;
  }

  private static String instruction(List<String> stage, String name) {
    return stage.stream()
        .filter(l -> l.startsWith(name + " "))
        .reduce((a, b) -> b)
        .map(l -> l.substring(name.length() + 1).strip())
        .orElseThrow(() -> new AssertionError("no " + name + " in the Dockerfile's last stage"));
  }

  private static List<String> jsonArray(String text) throws IOException {
    return strings(JSON.readTree(text));
  }

  private static List<String> aptPackages(List<String> stage) {
    Matcher m =
        Pattern.compile("--no-install-recommends\\s+([^&]+)&&").matcher(instruction(stage, "RUN"));
    assertThat(m.find()).as("the runtime stage installs packages").isTrue();
    return List.of(m.group(1).strip().split("\\s+"));
  }

  private static List<String> copyDestinations(List<String> stage) {
    return stage.stream()
        .filter(l -> l.startsWith("COPY "))
        .map(
            l -> {
              String[] words = l.split("\\s+");
              return words[words.length - 1];
            })
        .toList();
  }

  // ------------------------------------------------------------ the archive

  private static JsonNode blob(Path dir, String digest) throws IOException {
    return JSON.readTree(
        dir.resolve("blobs/sha256").resolve(digest.substring("sha256:".length())).toFile());
  }

  private static Path unpacked() throws Exception {
    Path dir = work.resolve("oci");
    if (!Files.isDirectory(dir)) {
      Files.createDirectories(dir);
      run(work, "tar", "-xf", archive.toString(), "-C", dir.toString());
    }
    return dir;
  }

  private static JsonNode manifest() throws Exception {
    Path dir = unpacked();
    JsonNode index = JSON.readTree(dir.resolve("index.json").toFile());
    assertThat(index.get("manifests")).hasSize(1);
    assertThat(
            index
                .get("manifests")
                .get(0)
                .get("annotations")
                .get("org.opencontainers.image.ref.name")
                .asText())
        .isEqualTo("localhost/jfs-csi:dev");
    return blob(dir, index.get("manifests").get(0).get("digest").asText());
  }

  private static JsonNode imageConfig() throws Exception {
    return blob(unpacked(), manifest().get("config").get("digest").asText());
  }

  private static Path onlyLayer() throws Exception {
    JsonNode layers = manifest().get("layers");
    assertThat(layers).hasSize(1);
    String digest = layers.get(0).get("digest").asText();
    return unpacked().resolve("blobs/sha256").resolve(digest.substring("sha256:".length()));
  }

  private static List<String> strings(JsonNode array) {
    List<String> out = new ArrayList<>();
    Optional.ofNullable(array).ifPresent(a -> a.forEach(n -> out.add(n.asText())));
    return out;
  }

  private static String run(Path dir, String... argv) throws Exception {
    Path out = Files.createTempFile("image-recipe", ".out");
    Path err = Files.createTempFile("image-recipe", ".err");
    try {
      Process p =
          new ProcessBuilder(argv)
              .directory(dir.toFile())
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      if (!p.waitFor(15, TimeUnit.MINUTES) || p.exitValue() != 0) {
        p.destroyForcibly();
        throw new AssertionError(
            String.join(" ", argv) + " failed: " + Files.readString(err, StandardCharsets.UTF_8));
      }
      return Files.readString(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(out);
      Files.deleteIfExists(err);
    }
  }
}

package io.jfscsi.cli;

import java.io.IOException;
import java.lang.reflect.InvocationTargetException;
import java.net.URISyntaxException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Unmatched;

/**
 * {@code jfs-csi bench}: the bench ships as a jar of its own ({@code jfs-csi-bench.jar}, built with
 * this one from the test tree), so that the driver's jar carries no second CSI plugin and no bench
 * scenarios. With that jar beside this one, the command hands every argument over to it and stays
 * one command for a user; without it, it says where the bench is.
 */
@Command(
    name = "bench",
    description =
        "Measure publish and unpublish, recovery and scale (runs jfs-csi-bench.jar, which lies"
            + " beside this jar; `jfs-csi bench --help` shows its options).")
final class BenchJar implements Callable<Integer> {
  static final String MAIN_CLASS = "io.jfscsi.bench.BenchMain";

  @Unmatched List<String> args = new ArrayList<>();

  @Override
  public Integer call() throws Exception {
    Optional<Path> jar = besideThisJar();
    if (jar.isEmpty()) {
      System.err.println(
          "jfs-csi bench: no jfs-csi-bench.jar beside "
              + ownLocation()
              + "; build it with `./mvnw -DskipTests package` (target/jfs-csi-*-bench.jar) and put"
              + " it beside jfs-csi.jar, or run it directly: java -jar jfs-csi-bench.jar");
      return 2;
    }
    try (URLClassLoader loader =
        new URLClassLoader(
            new URL[] {jar.get().toUri().toURL()}, BenchJar.class.getClassLoader())) {
      Object code =
          loader
              .loadClass(MAIN_CLASS)
              .getMethod("run", String[].class)
              .invoke(null, (Object) args.toArray(String[]::new));
      return (Integer) code;
    } catch (InvocationTargetException e) {
      throw e.getCause() instanceof Exception cause ? cause : e;
    }
  }

  /**
   * {@code jfs-csi-bench.jar}, or the build's {@code jfs-csi-VERSION-bench.jar}, beside this jar.
   */
  static Optional<Path> besideThisJar() throws IOException {
    Path dir = ownLocation().getParent();
    if (dir == null || !Files.isDirectory(dir)) {
      return Optional.empty();
    }
    Path plain = dir.resolve("jfs-csi-bench.jar");
    if (Files.isRegularFile(plain)) {
      return Optional.of(plain);
    }
    try (Stream<Path> files = Files.list(dir)) {
      return files
          .filter(p -> p.getFileName().toString().matches("jfs-csi-.*-bench\\.jar"))
          .sorted()
          .findFirst();
    }
  }

  private static Path ownLocation() {
    try {
      return Path.of(BenchJar.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
  }
}

package io.jfscsi.warmup;

import io.jfscsi.Failure;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Cache warm-up of a volume on this node, through the client that serves it: {@code juicefs warmup}
 * on the paths when the JuiceFS client is installed, otherwise (the embedded default, whose FUSE
 * passthrough has no cache of its own) every file under the paths is read once, which is what
 * warm-up does to a JuiceFS client's cache.
 */
public final class Warmup {
  private Warmup() {}

  /** What a warm-up did: files and bytes read (embedded), or the exit code of juicefs. */
  public record Result(String how, long files, long bytes, int exitCode) {}

  /**
   * The absolute paths to warm up: each of {@code paths} taken inside {@code root} (the client's
   * mount point joined with the volume's sub-directory); a path that leaves it is refused.
   */
  public static List<Path> resolve(Path root, List<String> paths) {
    Path base = root.normalize();
    List<Path> out = new ArrayList<>();
    for (String p : paths.isEmpty() ? List.of("") : paths) {
      String relative = p.startsWith("/") ? p.substring(1) : p;
      Path full = base.resolve(relative).normalize();
      if (!full.startsWith(base)) {
        throw new Failure(
            Failure.Code.INVALID_ARGUMENT, "warm-up path " + p + " leaves the volume");
      }
      out.add(full);
    }
    return out;
  }

  /** Runs {@code juicefs warmup} (output to this process's own) or reads every file. */
  public static Result run(List<Path> paths, Optional<String> juicefs, Optional<Integer> threads)
      throws IOException, InterruptedException {
    for (Path p : paths) {
      if (!Files.exists(p)) {
        throw new Failure(Failure.Code.NOT_FOUND, "warm-up path " + p + " does not exist");
      }
    }
    if (juicefs.isPresent()) {
      List<String> argv = new ArrayList<>(List.of(juicefs.get(), "warmup"));
      threads.ifPresent(t -> argv.add("--threads=" + t));
      paths.forEach(p -> argv.add(p.toString()));
      Process process = new ProcessBuilder(argv).inheritIO().start();
      return new Result("juicefs warmup", 0, 0, process.waitFor());
    }
    long[] counts = new long[2];
    byte[] buffer = new byte[1 << 20];
    for (Path root : paths) {
      Files.walkFileTree(
          root,
          new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
                throws IOException {
              if (attrs.isRegularFile()) {
                try (InputStream in = Files.newInputStream(file)) {
                  for (int n; (n = in.read(buffer)) > 0; ) {
                    counts[1] += n;
                  }
                }
                counts[0]++;
              }
              return FileVisitResult.CONTINUE;
            }
          });
    }
    return new Result("read through the client", counts[0], counts[1], 0);
  }

  /** {@code juicefs} if it is on the PATH. */
  public static Optional<String> juicefsOnPath() {
    String path = Optional.ofNullable(System.getenv("PATH")).orElse("");
    for (String dir : path.split(":")) {
      if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, "juicefs"))) {
        return Optional.of(Path.of(dir, "juicefs").toString());
      }
    }
    return Optional.empty();
  }
}

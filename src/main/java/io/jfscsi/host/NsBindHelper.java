package io.jfscsi.host;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;

/**
 * The native helper {@code jfs-nsbind} (src/main/c/jfs-nsbind.c), built by the project's build into
 * the class path at {@value #RESOURCE}. The JVM cannot enter another mount namespace (setns refuses
 * a multi-threaded process), so the one step that must happen inside a container's namespace runs
 * in this single-threaded program, one short process per container.
 */
public final class NsBindHelper {
  public static final String RESOURCE = "/native/jfs-nsbind";
  public static final String FILE_NAME = "jfs-nsbind";

  /** Exit codes of the helper; see the program's header comment. */
  public static final int OK = 0;

  public static final int USAGE = 2;
  public static final int NOT_A_MOUNT_POINT = 3;
  public static final int NO_NAMESPACE = 4;
  public static final int NO_SOURCE = 5;
  public static final int SETNS = 6;
  public static final int UNMOUNT = 7;
  public static final int MOVE = 8;
  public static final int RESTRICT = 9;

  /** Not the helper's: it could not be started, or did not finish in time. */
  public static final int DID_NOT_RUN = -1;

  private final Path binary;

  public NsBindHelper(Path binary) {
    this.binary = binary;
  }

  public Path binary() {
    return binary;
  }

  /**
   * Copies the helper from the class path into {@code dir} (created 0700), mode 0700, unless an
   * identical copy is already there; the copy is renamed into place, so a running one is never
   * overwritten.
   */
  public static NsBindHelper install(Path dir) throws IOException {
    byte[] program;
    try (InputStream in = NsBindHelper.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IOException(
            "the class path has no "
                + RESOURCE
                + " (the build compiles it from src/main/c/jfs-nsbind.c with gcc)");
      }
      program = in.readAllBytes();
    }
    Files.createDirectories(dir);
    Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
    Path file = dir.resolve(FILE_NAME);
    if (!Files.isRegularFile(file) || !Arrays.equals(Files.readAllBytes(file), program)) {
      Path tmp =
          Files.createTempFile(
              dir,
              "." + FILE_NAME,
              ".tmp",
              PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      try {
        Files.write(tmp, program);
        Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwx------"));
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
      } finally {
        Files.deleteIfExists(tmp);
      }
    }
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
    return new NsBindHelper(file);
  }

  /**
   * What one run said.
   *
   * @param exitCode the helper's exit code, or {@link #DID_NOT_RUN}
   * @param message what it wrote (its reason when it failed), trimmed
   */
  public record Result(int exitCode, String message) {
    public boolean ok() {
      return exitCode == OK;
    }
  }

  /** Runs {@code jfs-nsbind pid source target}; never throws, every failure is a Result. */
  public Result run(long pid, Path source, Path target, Duration timeout) {
    Process process;
    try {
      process =
          new ProcessBuilder(
                  binary.toString(), Long.toString(pid), source.toString(), target.toString())
              .redirectErrorStream(true)
              .start();
    } catch (IOException e) {
      return new Result(DID_NOT_RUN, "cannot run " + binary + ": " + e.getMessage());
    }
    try {
      process.getOutputStream().close();
      if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        process.destroyForcibly();
        return new Result(DID_NOT_RUN, binary.getFileName() + " did not finish within " + timeout);
      }
      // It writes one short line at most, well below a pipe's buffer: reading after the exit
      // cannot block.
      String out =
          new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      return new Result(process.exitValue(), out);
    } catch (IOException e) {
      return new Result(
          process.exitValue(), "(its output could not be read: " + e.getMessage() + ")");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
      return new Result(DID_NOT_RUN, "interrupted while waiting for " + binary.getFileName());
    }
  }
}

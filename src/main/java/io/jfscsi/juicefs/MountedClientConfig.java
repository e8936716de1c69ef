package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * What a running JuiceFS client says of itself in the internal file {@code .config} at the root of
 * its mount ({@code .jfs.config} with {@code prefix-internal}): the process that serves the FUSE
 * connection ({@code Pid}, in the client's PID namespace) and its session ({@code Meta.Sid}). The
 * Go driver reads the same file before it signals a client to hand over (pkg/fuse/grace).
 *
 * @param pid the serving process, which {@code SIGHUP} makes flush its buffers, save the state of
 *     open files for its successor and exit
 * @param sid the client's metadata session
 */
public record MountedClientConfig(long pid, long sid) {
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The internal file's name for a client mounted with {@code options}. */
  public static String fileName(java.util.List<String> options) {
    return options.contains("prefix-internal") ? ".jfs.config" : ".config";
  }

  /**
   * Reads the file of the client mounted at {@code mountPath} with {@code options}, giving up after
   * {@code timeout} (a stuck FUSE mount would block the read for good): FAILED_PRECONDITION when it
   * cannot be read or names no process.
   */
  public static MountedClientConfig read(
      Path mountPath, java.util.List<String> options, Duration timeout) {
    Path file = mountPath.resolve(fileName(options));
    FutureTask<byte[]> reading = new FutureTask<>(() -> Files.readAllBytes(file));
    Thread.ofVirtual().name("read-" + file).start(reading);
    return parse(file, await(file, reading, timeout));
  }

  /** Parses the file's {@code content}; {@code file} names it in errors. */
  static MountedClientConfig parse(Path file, byte[] content) {
    JsonNode root;
    try {
      root = JSON.readTree(content);
    } catch (JacksonException e) {
      throw unreadable(file, "it is not JSON (" + e.getOriginalMessage() + ")");
    }
    long pid = root.path("Pid").asLong(0);
    if (pid <= 0) {
      throw unreadable(file, "it names no serving process (Pid)");
    }
    return new MountedClientConfig(pid, root.path("Meta").path("Sid").asLong(0));
  }

  private static byte[] await(Path file, Future<byte[]> reading, Duration timeout) {
    try {
      return reading.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      reading.cancel(true);
      throw unreadable(file, "it did not answer in " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      throw unreadable(
          file,
          cause instanceof IOException io
              ? io.getClass().getSimpleName() + ": " + io.getMessage()
              : String.valueOf(cause));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw unreadable(file, "interrupted");
    }
  }

  private static Failure unreadable(Path file, String why) {
    return Failure.precondition("cannot read the client's " + file + ": " + why);
  }
}

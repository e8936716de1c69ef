package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.Redactor;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Starts client processes and runs one-shot commands, all with output to a file. Output passes
 * through a filter that masks the volume's secret values (a client may print its metaurl or keys):
 * a bash loop, in the client's own process group, that reads them from variables the client itself
 * never gets. A file, not the JVM, stays the end of the pipe, so a client outlives the driver.
 */
final class ClientLauncher {
  private static final File DEV_NULL = new File("/dev/null");
  private static final Path BASH =
      Files.isExecutable(Path.of("/usr/bin/bash"))
          ? Path.of("/usr/bin/bash")
          : Path.of("/bin/bash");

  /** Their names sort in the order of the masks: longest value first. */
  private static final String MASK_PREFIX = "JFS_CSI_MASK_";

  private static final String FILTER =
      "while IFS= read -r line || [ -n \"$line\" ]; do"
          + " for v in \"${!JFS_CSI_MASK_@}\"; do line=${line//\"${!v}\"/\"$m\"}; done;"
          + " printf '%s\\n' \"$line\"; done";

  /** The client is exec'ed in place: the pid of the started process stays the client's. */
  private static final String FILTERED_DETACHED =
      "m='"
          + Redactor.MASK
          + "'; exec > >("
          + FILTER
          + ") 2>&1; unset \"${!JFS_CSI_MASK_@}\"; exec \"$@\"";

  /** A one-shot command: bash waits for the filter too, so the log is complete at its exit. */
  private static final String FILTERED_ONE_SHOT =
      "m='"
          + Redactor.MASK
          + "'; ("
          + " unset \"${!JFS_CSI_MASK_@}\"; exec \"$@\" ) 2>&1 | { "
          + FILTER
          + "; };"
          + " exit \"${PIPESTATUS[0]}\"";

  /**
   * A one-shot command whose stdout is kept apart (fd 3, the caller's file) and whose stderr alone
   * goes through the filter to the log.
   */
  private static final String FILTERED_CAPTURING =
      "m='"
          + Redactor.MASK
          + "'; exec 3>&1; ("
          + " unset \"${!JFS_CSI_MASK_@}\"; exec \"$@\" 3>&- ) 2>&1 >&3 3>&- | { "
          + FILTER
          + "; } >&2 3>&-;"
          + " exit \"${PIPESTATUS[0]}\"";

  private static final Path SETSID =
      Files.isExecutable(Path.of("/usr/bin/setsid"))
          ? Path.of("/usr/bin/setsid")
          : Path.of("/bin/setsid");

  static Path setsid() {
    return SETSID;
  }

  /**
   * Starts {@code argv} in a new session so that it survives the driver: no controlling terminal,
   * no process group shared with the JVM (a signal to the driver's group does not reach it). The
   * JVM's child is not a group leader, so setsid(1) calls setsid(2) and execs in place: the pid of
   * the returned Process is the client's own pid. stdout and stderr are appended to the log; stdin
   * is /dev/null.
   */
  static Process startDetached(
      List<String> argv, Map<String, String> env, Path logFile, List<String> masks)
      throws IOException {
    List<String> command = new ArrayList<>(argv.size() + 1);
    command.add(SETSID.toString());
    command.addAll(filtered(argv, masks, FILTERED_DETACHED));
    return builder(command, env, logFile, masks).start();
  }

  /**
   * Runs a one-shot command to completion with its output appended to {@code logFile}. Returns its
   * exit status; throws a DEADLINE_EXCEEDED Failure (after killing it) on timeout.
   */
  static int run(
      List<String> argv,
      Map<String, String> env,
      Path logFile,
      Duration timeout,
      String what,
      List<String> masks)
      throws IOException {
    Process p = builder(filtered(argv, masks, FILTERED_ONE_SHOT), env, logFile, masks).start();
    return await(p, timeout, what);
  }

  /**
   * Like {@link #run} with stdout to {@code stdoutFile} and stderr, masked, to {@code logFile}. The
   * stdout is parsed, never logged, so it is left as the command wrote it.
   */
  static int runCapturing(
      List<String> argv,
      Map<String, String> env,
      Path stdoutFile,
      Path logFile,
      Duration timeout,
      String what,
      List<String> masks)
      throws IOException {
    ProcessBuilder b = builder(filtered(argv, masks, FILTERED_CAPTURING), env, logFile, masks);
    b.redirectErrorStream(false);
    b.redirectOutput(ProcessBuilder.Redirect.to(stdoutFile.toFile()));
    b.redirectError(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    return await(b.start(), timeout, what);
  }

  private static int await(Process p, Duration timeout, String what) {
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly); // the command under its filter
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new Failure(
            Failure.Code.DEADLINE_EXCEEDED, what + " did not finish within " + timeout);
      }
      return p.exitValue();
    } catch (InterruptedException e) {
      p.descendants().forEach(ProcessHandle::destroyForcibly);
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw Failure.internal(what + " was interrupted", e);
    }
  }

  /** {@code argv} under bash running {@code script}, or as it is when nothing is to be masked. */
  private static List<String> filtered(List<String> argv, List<String> masks, String script) {
    if (masks.isEmpty()) {
      return argv;
    }
    List<String> command =
        new ArrayList<>(List.of(BASH.toString(), "-c", script, "jfs-csi-client"));
    command.addAll(argv);
    return command;
  }

  private static ProcessBuilder builder(
      List<String> command, Map<String, String> env, Path logFile, List<String> masks) {
    ProcessBuilder b = new ProcessBuilder(command);
    b.environment().putAll(env);
    for (int i = 0; i < masks.size(); i++) {
      b.environment().put(String.format("%s%04d", MASK_PREFIX, i), masks.get(i));
    }
    b.redirectInput(ProcessBuilder.Redirect.from(DEV_NULL));
    b.redirectErrorStream(true);
    b.redirectOutput(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    return b;
  }

  /** Describes an exit status, decoding the JVM's 128+N convention for a death by signal N. */
  static String describeStatus(int status) {
    if (status > 128 && status < 128 + 65) {
      return "status " + status + " (killed by signal " + (status - 128) + ")";
    }
    return "status " + status;
  }
}

package io.jfscsi.runtime;

import io.jfscsi.Failure;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** Starts client processes and runs one-shot commands, all with output to a file. */
final class ClientLauncher {
  private static final File DEV_NULL = new File("/dev/null");
  private static final Path SETSID = Files.isExecutable(Path.of("/usr/bin/setsid"))
      ? Path.of("/usr/bin/setsid") : Path.of("/bin/setsid");

  static Path setsid() {
    return SETSID;
  }

  /**
   * Starts {@code argv} in a new session so that it survives the driver: no controlling terminal,
   * no process group shared with the JVM (a signal to the driver's group does not reach it). The
   * JVM's child is not a group leader, so setsid(1) calls setsid(2) and execs in place: the pid
   * of the returned Process is the client's own pid. stdout and stderr are appended to the log;
   * stdin is /dev/null.
   */
  static Process startDetached(List<String> argv, Map<String, String> env, Path logFile) throws IOException {
    List<String> command = new ArrayList<>(argv.size() + 1);
    command.add(SETSID.toString());
    command.addAll(argv);
    return builder(command, env, logFile).start();
  }

  /**
   * Runs a one-shot command to completion with its output appended to {@code logFile}. Returns
   * its exit status; throws a DEADLINE_EXCEEDED Failure (after killing it) on timeout.
   */
  static int run(List<String> argv, Map<String, String> env, Path logFile, Duration timeout, String what)
      throws IOException {
    Process p = builder(argv, env, logFile).start();
    return await(p, timeout, what);
  }

  /** Like {@link #run} with stdout to {@code stdoutFile} and stderr to {@code logFile}. */
  static int runCapturing(List<String> argv, Map<String, String> env, Path stdoutFile, Path logFile,
                          Duration timeout, String what) throws IOException {
    ProcessBuilder b = builder(argv, env, logFile);
    b.redirectErrorStream(false);
    b.redirectOutput(ProcessBuilder.Redirect.to(stdoutFile.toFile()));
    b.redirectError(ProcessBuilder.Redirect.appendTo(logFile.toFile()));
    return await(b.start(), timeout, what);
  }

  private static int await(Process p, Duration timeout, String what) {
    try {
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        p.waitFor(5, TimeUnit.SECONDS);
        throw new Failure(Failure.Code.DEADLINE_EXCEEDED, what + " did not finish within " + timeout);
      }
      return p.exitValue();
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw Failure.internal(what + " was interrupted", e);
    }
  }

  private static ProcessBuilder builder(List<String> command, Map<String, String> env, Path logFile) {
    ProcessBuilder b = new ProcessBuilder(command);
    b.environment().putAll(env);
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

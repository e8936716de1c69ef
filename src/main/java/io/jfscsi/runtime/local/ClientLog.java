package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.Redactor;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * The per-client log file (stateDir/logs/NAME.log) that a client's stdout and stderr are appended
 * to. A file, not a pipe to the JVM: a pipe would SIGPIPE the client once the driver that reads it
 * dies. It may hold client output with secrets, hence 0600 in a 0700 directory.
 */
final class ClientLog {
  private static final int TAIL_BYTES = 4096;
  private static final int TAIL_LINES = 20;

  private final Path file;

  ClientLog(Path stateDir, String name) {
    this.file = stateDir.resolve("logs").resolve(name + ".log");
  }

  Path file() {
    return file;
  }

  /** Creates the file if needed and appends a header line; returns the offset after it. */
  long begin(String what) {
    try {
      FileModes.createPrivateDirectories(file.getParent());
      FileModes.createPrivateFile(file);
      Files.writeString(
          file,
          "--- " + Instant.now() + " " + what + "\n",
          StandardCharsets.UTF_8,
          StandardOpenOption.APPEND);
      return Files.size(file);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot write client log " + file, e);
    }
  }

  /**
   * Runs a one-shot {@code juicefs} command to completion with its output appended here. One that
   * cannot start is INTERNAL, one that times out DEADLINE_EXCEEDED, one that exits non-zero {@code
   * onExit}; each message ends with the lines the command wrote, redacted.
   */
  void run(
      List<String> argv,
      Map<String, String> env,
      Duration timeout,
      String what,
      Redactor redactor,
      Failure.Code onExit) {
    long offset = begin("running " + redactor.redact(ClientCommand.redacted(argv)));
    int status;
    try {
      status = ClientLauncher.run(argv, env, file, timeout, what, redactor.values());
    } catch (IOException e) {
      throw Failure.internal(
          "cannot run " + what + ": " + redactor.redact(String.valueOf(e.getMessage())), e);
    } catch (Failure f) {
      throw new Failure(f.code(), f.getMessage() + "." + describeSince(offset, redactor));
    }
    if (status != 0) {
      throw new Failure(
          onExit,
          what
              + " failed with "
              + ClientLauncher.describeStatus(status)
              + "."
              + describeSince(offset, redactor));
    }
  }

  /** The last lines written since {@code offset}, redacted; "" when there are none. */
  String tailSince(long offset, Redactor redactor) {
    try (RandomAccessFile raf = new RandomAccessFile(file.toFile(), "r")) {
      long end = raf.length();
      long from = Math.max(offset, end - TAIL_BYTES);
      if (from >= end) {
        return "";
      }
      byte[] buf = new byte[(int) (end - from)];
      raf.seek(from);
      raf.readFully(buf);
      String text = new String(buf, StandardCharsets.UTF_8);
      String[] lines = text.split("\n");
      // A cut first line is dropped unless it is all there is.
      int first = from > offset && lines.length > 1 ? 1 : 0;
      first = Math.max(first, lines.length - TAIL_LINES);
      return redactor
          .redact(String.join("\n", Arrays.copyOfRange(lines, first, lines.length)))
          .strip();
    } catch (IOException e) {
      return "(client log " + file + " unreadable: " + e.getMessage() + ")";
    }
  }

  /** " Last output:\n..." for a Failure message, or a note that there was none. */
  String describeSince(long offset, Redactor redactor) {
    String tail = tailSince(offset, redactor);
    return tail.isEmpty()
        ? " It printed nothing (log: " + file + ")."
        : " Last output (log: " + file + "):\n" + tail;
  }
}

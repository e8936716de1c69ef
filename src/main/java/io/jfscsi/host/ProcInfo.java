package io.jfscsi.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * What /proc says about a process. Used instead of {@link ProcessHandle#isAlive()} because that
 * counts a zombie as alive, and a client orphaned by a dead driver may stay a zombie for a while
 * under a container's init.
 */
public final class ProcInfo {
  private ProcInfo() {}

  /** Fields of /proc/PID/stat that the runtime needs. */
  public record Stat(char state, long parentPid, long processGroup, long session) {}

  public static Optional<Stat> stat(long pid) {
    String text;
    try {
      text =
          Files.readString(
              Path.of("/proc", Long.toString(pid), "stat"), StandardCharsets.ISO_8859_1);
    } catch (IOException e) {
      return Optional.empty();
    }
    // The command name (field 2) may contain spaces and parentheses: parse after the last ')'.
    int close = text.lastIndexOf(')');
    if (close < 0) {
      return Optional.empty();
    }
    String[] f = text.substring(close + 2).trim().split(" ");
    try {
      return Optional.of(
          new Stat(
              f[0].charAt(0), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3])));
    } catch (RuntimeException e) {
      return Optional.empty();
    }
  }

  /** Alive and not a zombie. */
  public static boolean isRunning(long pid) {
    return stat(pid).map(s -> s.state() != 'Z' && s.state() != 'X').orElse(false);
  }

  public static List<String> cmdline(long pid) {
    byte[] raw;
    try {
      raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
    } catch (IOException e) {
      return List.of();
    }
    List<String> args = new ArrayList<>();
    int start = 0;
    for (int i = 0; i < raw.length; i++) {
      if (raw[i] == 0) {
        args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
        start = i + 1;
      }
    }
    if (start < raw.length) {
      args.add(new String(raw, start, raw.length - start, StandardCharsets.UTF_8));
    }
    return args;
  }

  /**
   * Whether {@code pid} runs one of {@code programs} (by file name, as argv[0] or as the script an
   * interpreter runs) for {@code mountPath}. Guards against signalling a reused pid.
   */
  public static boolean runsClientFor(long pid, Path mountPath, Collection<String> programs) {
    return isRunning(pid) && matchesClient(cmdline(pid), mountPath, programs);
  }

  /** The arguments of {@code pid} as a client runs them, empty when it is gone. */
  public static List<String> arguments(long pid) {
    return arguments(cmdline(pid));
  }

  static List<String> arguments(List<String> cmdline) {
    List<String> args = cmdline.stream().filter(a -> !a.isEmpty()).toList();
    // JuiceFS hides the metaurl password with gspt.SetProcTitle(strings.Join(os.Args, " ")): the
    // arguments then read as one space-joined string padded with NULs.
    if (args.size() == 1 && args.getFirst().contains(" ")) {
      args = List.of(args.getFirst().split(" "));
    }
    return args;
  }

  static boolean matchesClient(List<String> cmdline, Path mountPath, Collection<String> programs) {
    List<String> args = arguments(cmdline);
    boolean program = false;
    for (int i = 0; i < Math.min(2, args.size()); i++) {
      int slash = args.get(i).lastIndexOf('/');
      if (programs.contains(args.get(i).substring(slash + 1))) {
        program = true;
      }
    }
    return program && args.contains(mountPath.toString());
  }

  /** Polls until the process is gone (or a zombie); true if it went within {@code timeout}. */
  public static boolean awaitGone(long pid, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (isRunning(pid)) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      sleep(Duration.ofMillis(20));
    }
    return true;
  }

  /** SIGTERM, {@code grace}, SIGKILL. True if the process is gone at the end. */
  public static boolean terminate(long pid, Duration grace) {
    Optional<ProcessHandle> handle = ProcessHandle.of(pid);
    if (handle.isEmpty() || !isRunning(pid)) {
      return true;
    }
    handle.get().destroy();
    if (awaitGone(pid, grace)) {
      return true;
    }
    handle.get().destroyForcibly();
    return awaitGone(pid, Duration.ofSeconds(5));
  }

  public static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}

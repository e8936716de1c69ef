package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientExit;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.SafeNames;
import io.jfscsi.host.ProcInfo;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Calls a client's onExit when it dies, except when it dies because {@code stop} ended it.
 *
 * <p>Which deaths are deliberate is kept as marker files (markerDir/NAME.PID), not in memory: the
 * runtime holds no shared mutable state, {@code stop} receives only the RunningClient, and an
 * adopted client's exit is seen by polling, possibly seconds after stop returned. Markers stay
 * until {@link #sweep} finds them old and their process gone, so every watcher of the pid (e.g. of
 * an earlier runtime instance in the same JVM) sees the same answer.
 */
final class ExitWatcher {
  private static final Logger log = LoggerFactory.getLogger(ExitWatcher.class);
  private static final Duration MARKER_TTL = Duration.ofMinutes(1);

  private final Path markerDir;

  ExitWatcher(Path markerDir) {
    this.markerDir = markerDir;
  }

  void watch(
      RunningClient client,
      CompletableFuture<?> exit,
      Supplier<String> reason,
      Consumer<ClientExit> onExit) {
    exit.whenComplete(
        (ignored, error) -> {
          if (Files.exists(marker(client))) {
            log.debug("client {} (pid {}) exited after stop", client.key(), client.handle());
            return;
          }
          String why = reason.get();
          log.warn("client {} (pid {}) died: {}", client.key(), client.handle(), why);
          try {
            onExit.accept(new ClientExit(client, why));
          } catch (RuntimeException e) {
            log.error("onExit of client {} failed", client.key(), e);
          }
        });
  }

  /** Called before signalling the client, so that its watchers stay quiet. */
  void markStopping(RunningClient client) {
    try {
      FileModes.createPrivateDirectories(markerDir);
      Files.createFile(marker(client));
    } catch (FileAlreadyExistsException e) {
      // A repeated stop.
    } catch (IOException e) {
      log.warn(
          "cannot mark client {} as stopping; its exit may be reported: {}",
          client.key(),
          e.toString());
    }
  }

  /** Removes markers whose process is gone and whose watchers have had time to read them. */
  void sweep() {
    if (!Files.isDirectory(markerDir)) {
      return;
    }
    Instant cutoff = Instant.now().minus(MARKER_TTL);
    try (DirectoryStream<Path> markers = Files.newDirectoryStream(markerDir)) {
      for (Path m : markers) {
        String name = m.getFileName().toString();
        long pid = parsePid(name.substring(name.lastIndexOf('.') + 1));
        if (Files.getLastModifiedTime(m).toInstant().isBefore(cutoff)
            && (pid < 0 || !ProcInfo.isRunning(pid))) {
          Files.deleteIfExists(m);
        }
      }
    } catch (IOException e) {
      log.debug("cannot sweep stop markers: {}", e.toString());
    }
  }

  private Path marker(RunningClient client) {
    // The pid, parsed, so that an odd handle cannot name a path outside markerDir.
    return markerDir.resolve(SafeNames.of(client.key()) + "." + parsePid(client.handle()));
  }

  static long parsePid(String handle) {
    try {
      long pid = Long.parseLong(handle);
      return pid > 1 ? pid : -1;
    } catch (NumberFormatException e) {
      return -1;
    }
  }
}

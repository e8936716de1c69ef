package io.jfscsi.runtime.local;

import io.jfscsi.host.ProcInfo;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Exit futures for clients that this JVM did not start (adopted from an earlier driver), served by
 * one thread that polls every watched process.
 *
 * <p>{@code ProcessHandle.onExit()} of a process that is not a child takes a JDK "process reaper"
 * thread per process, which sleeps between {@code isAlive} checks (300 ms growing to 5 s, so a
 * death may be seen seconds late): 500 threads after a driver restart with 500 clients. Here one
 * thread checks every watched handle each {@link #PERIOD} and completes the future of each that is
 * gone (or a zombie), once. The thread exists only while something is watched.
 *
 * <p>Children that this JVM started keep {@code Process.onExit()}: the JDK reaps them on its own
 * reaper thread whatever is done here, and waiting on that costs no further thread.
 *
 * <p>The set of watched handles is this object's own; nothing outside reads or changes it.
 */
final class AdoptedExits {
  private static final Logger log = LoggerFactory.getLogger(AdoptedExits.class);
  static final Duration PERIOD = Duration.ofMillis(200);

  private record Watched(ProcessHandle handle, CompletableFuture<Void> exit) {}

  private final Set<Watched> watched = ConcurrentHashMap.newKeySet();

  /** Whether the polling thread runs; whoever flips it to true starts one. */
  private final AtomicBoolean polling = new AtomicBoolean();

  /** Completes once {@code handle} is no longer alive. */
  CompletableFuture<Void> onExit(ProcessHandle handle) {
    CompletableFuture<Void> exit = new CompletableFuture<>();
    if (!alive(handle)) {
      exit.complete(null);
      return exit;
    }
    watched.add(new Watched(handle, exit));
    if (polling.compareAndSet(false, true)) {
      Thread.ofPlatform().daemon().name("jfs-adopted-exits").start(this::poll);
    }
    return exit;
  }

  /**
   * {@code isAlive} rules out a reused pid (it compares start times) but counts a zombie as alive:
   * an adopted client's parent is whatever adopted the orphan (init, a subreaper, or this JVM when
   * it runs as a container's pid 1), which may reap it late or never. A zombie is dead.
   */
  private static boolean alive(ProcessHandle handle) {
    return handle.isAlive() && ProcInfo.isRunning(handle.pid());
  }

  /** How many processes are watched (for tests). */
  int watching() {
    return watched.size();
  }

  private void poll() {
    while (true) {
      try {
        Thread.sleep(PERIOD);
      } catch (InterruptedException e) {
        // Not expected (daemon thread, never interrupted): keep watching.
      }
      for (Watched w : watched) {
        if (!alive(w.handle()) && watched.remove(w)) {
          try {
            w.exit().complete(null);
          } catch (RuntimeException e) {
            log.error("exit callback of pid {} failed", w.handle().pid(), e);
          }
        }
      }
      if (watched.isEmpty()) {
        polling.set(false);
        // An onExit that added in between either saw polling true (so this thread must go on)
        // or starts its own thread after the set above.
        if (watched.isEmpty() || !polling.compareAndSet(false, true)) {
          return;
        }
      }
    }
  }
}

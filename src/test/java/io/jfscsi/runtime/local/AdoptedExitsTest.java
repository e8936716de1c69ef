package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Exits of processes that are not children of this JVM, as after a driver restart. */
class AdoptedExitsTest {
  private final List<ProcessHandle> started = new ArrayList<>();

  @AfterEach
  void killLeftovers() {
    started.forEach(ProcessHandle::destroyForcibly);
  }

  /** A sleep whose parent shell has exited: it is not our child. */
  private ProcessHandle orphanSleep() throws Exception {
    Process sh =
        new ProcessBuilder("/bin/sh", "-c", "sleep 300 >/dev/null 2>&1 </dev/null & echo $!")
            .redirectErrorStream(true)
            .start();
    String line;
    try (BufferedReader r =
        new BufferedReader(new InputStreamReader(sh.getInputStream(), StandardCharsets.UTF_8))) {
      line = r.readLine();
    }
    assertThat(sh.waitFor(10, TimeUnit.SECONDS)).isTrue();
    ProcessHandle h = ProcessHandle.of(Long.parseLong(line.trim())).orElseThrow();
    started.add(h);
    assertThat(h.parent().map(ProcessHandle::pid))
        .isNotEqualTo(Optional.of(ProcessHandle.current().pid()));
    return h;
  }

  private static long pollerThreads() {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(t -> t.getName().equals("jfs-adopted-exits"))
        .count();
  }

  private static long reaperThreadsFor(List<ProcessHandle> handles) {
    return Thread.getAllStackTraces().keySet().stream()
        .filter(
            t ->
                handles.stream()
                    .anyMatch(h -> t.getName().equals("process reaper (pid " + h.pid() + ")")))
        .count();
  }

  @Test
  void oneThreadWatchesManyAndEachExitCompletesOnce() throws Exception {
    AdoptedExits exits = new AdoptedExits();
    List<ProcessHandle> handles = new ArrayList<>();
    List<CompletableFuture<Void>> futures = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      ProcessHandle h = orphanSleep();
      handles.add(h);
      futures.add(exits.onExit(h));
    }
    assertThat(exits.watching()).isEqualTo(20);
    assertThat(pollerThreads()).isEqualTo(1);
    assertThat(reaperThreadsFor(handles)).as("no JDK reaper thread per adopted process").isZero();

    handles.get(3).destroyForcibly();
    futures.get(3).get(5, TimeUnit.SECONDS);
    assertThat(futures.stream().filter(CompletableFuture::isDone).count()).isEqualTo(1);

    long t0 = System.nanoTime();
    handles.forEach(ProcessHandle::destroyForcibly);
    CompletableFuture.allOf(futures.toArray(CompletableFuture[]::new)).get(5, TimeUnit.SECONDS);
    Duration took = Duration.ofNanos(System.nanoTime() - t0);
    assertThat(took).as("seen within a few polls").isLessThan(Duration.ofSeconds(2));

    // Nothing left to watch: the thread ends.
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (pollerThreads() > 0 && System.nanoTime() < deadline) {
      Thread.sleep(50);
    }
    assertThat(exits.watching()).isZero();
    assertThat(pollerThreads()).isZero();

    // And a later watch starts one again.
    ProcessHandle again = orphanSleep();
    CompletableFuture<Void> exit = exits.onExit(again);
    assertThat(pollerThreads()).isEqualTo(1);
    again.destroyForcibly();
    exit.get(5, TimeUnit.SECONDS);
  }

  @Test
  void aProcessAlreadyGoneCompletesAtOnce() throws Exception {
    ProcessHandle h = orphanSleep();
    h.destroyForcibly();
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
    while (h.isAlive() && System.nanoTime() < deadline) {
      Thread.sleep(20);
    }
    assertThat(new AdoptedExits().onExit(h)).isDone();
  }
}

package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.MountCheck;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.host.ProcessGroups;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.juicefs.Redactor;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One start of a new client process, from its launch until its mount point answers: the process is
 * started detached ({@link ClientLauncher}), put in its cgroup, waited for ({@link MountWait}) and
 * then watched for its exit ({@link ExitWatcher}); a client that exits or does not answer in time
 * is killed with everything it started, its mount point cleared, and the failure says why with the
 * end of its log. What comes before (the plan, an earlier client to adopt or discard) is {@link
 * LocalProcessRuntime}'s.
 */
final class ClientStartup {
  // Under the runtime's name: operators' filters and docs/operations.md name its start lines.
  private static final Logger log = LoggerFactory.getLogger(LocalProcessRuntime.class);

  private final LocalRuntimeConfig config;
  private final Mounter mounter;
  private final ExitWatcher exits;
  private final ClientCgroup cgroups;

  ClientStartup(
      LocalRuntimeConfig config, Mounter mounter, ExitWatcher exits, ClientCgroup cgroups) {
    this.config = config;
    this.mounter = mounter;
    this.exits = exits;
    this.cgroups = cgroups;
  }

  RunningClient launch(
      ClientKey key,
      ClientResources resources,
      Path mountPath,
      ClientPlan.Command command,
      Redactor redactor,
      ClientLog clientLog,
      Consumer<ClientExit> onExit) {
    long offset = clientLog.begin("starting " + command.shown());
    Process process;
    try {
      process =
          ClientLauncher.startDetached(
              command.argv(), command.env(), clientLog.file(), command.masks());
    } catch (IOException e) {
      MountCheck.removeEmptyDir(mountPath);
      throw new Failure(
          Failure.Code.INTERNAL,
          "cannot start the client of volume "
              + key.volumeId()
              + ": "
              + redactor.redact(String.valueOf(e.getMessage())));
    }
    // Limited from its first moments: a client that mounts is already reading and caching.
    cgroups.apply(key, resources, process.pid());
    MountWait.Outcome outcome =
        MountWait.awaitReady(mounter, mountPath, process::isAlive, config.readyTimeout());
    if (outcome != MountWait.Outcome.READY) {
      throw notReady(key, mountPath, process, outcome, redactor, clientLog, offset);
    }
    long pid = process.pid();
    RunningClient client =
        new RunningClient(
            key,
            mountPath,
            Long.toString(pid),
            process.info().startInstant().orElseGet(Instant::now));
    exits.watch(
        client,
        exitOf(process),
        () ->
            "client process "
                + pid
                + " exited with "
                + ClientLauncher.describeStatus(process.exitValue()),
        onExit);
    log.info("started client {} (pid {}) at {}: {}", key, pid, mountPath, command.shown());
    return client;
  }

  /**
   * Completes with the exit status when {@code process} ends, from a virtual thread of its own. Not
   * {@code Process.onExit()}: that completes through {@code handleAsync} on the JVM-wide common
   * pool, which has a single worker on a 2-core node, so anything blocking there (in this JVM,
   * whoever it is) would delay the driver noticing that a client died.
   */
  static CompletableFuture<Integer> exitOf(Process process) {
    CompletableFuture<Integer> exit = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("client-exit-" + process.pid())
        .start(() -> exit.complete(awaitExit(process)));
    return exit;
  }

  /** The exit status of {@code process}, waited for on the calling thread, interrupts or not. */
  private static int awaitExit(Process process) {
    boolean interrupted = false;
    try {
      while (true) {
        try {
          return process.waitFor();
        } catch (InterruptedException e) {
          interrupted = true;
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private Failure notReady(
      ClientKey key,
      Path mountPath,
      Process process,
      MountWait.Outcome outcome,
      Redactor redactor,
      ClientLog clientLog,
      long offset) {
    // The client leads its own process group (setsid): what it started goes with it. Its output
    // filter sees the end of the pipe and writes the last lines first, if it gets the time.
    long group = process.pid();
    // Read before it is reaped (a zombie's stat is still there): setsid made it a group leader.
    boolean leads = ProcInfo.stat(group).map(s -> s.processGroup() == group).orElse(false);
    process.destroyForcibly();
    int status = awaitExit(process);
    if (leads) {
      // A group id is not reused while any member lives, so this reaches only the client's own.
      ProcessGroups.awaitEmpty(group, Duration.ofSeconds(1));
      ProcessGroups.kill(group);
    }
    cgroups.remove(key);
    MountCheck.unmountQuietly(mounter, mountPath);
    MountCheck.removeEmptyDir(mountPath);
    String tail = clientLog.describeSince(offset, redactor);
    log.warn("client {} failed to start ({})", key, outcome);
    if (outcome == MountWait.Outcome.EXITED) {
      return new Failure(
          Failure.Code.INTERNAL,
          "the client of volume "
              + key.volumeId()
              + " exited with "
              + ClientLauncher.describeStatus(status)
              + " before its mount point answered."
              + tail);
    }
    return new Failure(
        Failure.Code.UNAVAILABLE,
        "the client of volume "
            + key.volumeId()
            + " did not answer at "
            + mountPath
            + " within "
            + config.readyTimeout()
            + "; it was killed."
            + tail);
  }
}

package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.SafeNames;
import io.jfscsi.host.MountCheck;
import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded {@link MountRuntime}: each JuiceFS client is a child process of the driver in a
 * session of its own, so that it outlives a driver restart and the next driver adopts it from the
 * saved record. A volume whose metaurl names a local directory is served by bindfs; any other
 * metaurl by the real {@code juicefs} binary (format, then mount in the foreground).
 *
 * <p>Holds no mutable state (but a warn-once flag, see {@link ClientCgroup}): many mount actors
 * call it at once, each for its own key, and each keeps its client's state itself; what belongs to
 * a key on the host (mount point, cgroup) is found from the key. onExit is not called when {@link
 * #stop} ends the client (see {@link ExitWatcher}); it may arrive before the start stage completes
 * if the client dies at once.
 *
 * <p>A client with CPU/memory requests or limits runs in a cgroup of its own ({@link
 * ClientCgroup}), best-effort: a host that does not allow it runs the client unlimited.
 */
public final class LocalProcessRuntime implements MountRuntime {
  private static final Logger log = LoggerFactory.getLogger(LocalProcessRuntime.class);

  private final LocalRuntimeConfig config;
  private final Mounter mounter;
  private final Executor executor;
  private final ClientRecordStore records;
  private final ExitWatcher exits;
  private final AdoptedExits adoptedExits = new AdoptedExits();
  private final ClientCache cache;
  private final ClientPlan plan;
  private final ClientCgroup cgroups;
  private final ClientStartup startup;
  private final QuotaCommand quotas;
  private final CloneCommand clones;

  /** Starts, stops and cache cleans run on a virtual thread per call. */
  public LocalProcessRuntime(LocalRuntimeConfig config, Mounter mounter) {
    this(
        config,
        mounter,
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("jfs-client-start-", 0).factory()));
  }

  public LocalProcessRuntime(LocalRuntimeConfig config, Mounter mounter, Executor executor) {
    this.config = config;
    this.mounter = mounter;
    this.executor = executor;
    this.records = new ClientRecordStore(config.stateDir().resolve("clients"));
    this.exits = new ExitWatcher(config.stateDir().resolve("stopping"));
    this.cache = new ClientCache(config);
    this.plan = new ClientPlan(config);
    this.cgroups = new ClientCgroup();
    this.startup = new ClientStartup(config, mounter, exits, cgroups);
    this.quotas = new QuotaCommand(config);
    this.clones = new CloneCommand(config);
  }

  public LocalRuntimeConfig config() {
    return config;
  }

  /** Where the client of {@code key} is mounted. */
  public Path mountPathOf(ClientKey key) {
    return config.mountRoot().resolve(SafeNames.of(key));
  }

  /** The log file that the client of {@code key} writes to. */
  public Path logFileOf(ClientKey key) {
    return new ClientLog(config.stateDir(), SafeNames.of(key)).file();
  }

  @Override
  public CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return startBlocking(key, settings, previous, onExit);
          } catch (Failure f) {
            throw f;
          } catch (RuntimeException e) {
            String why = Redactor.forSettings(settings).redact(String.valueOf(e.getMessage()));
            throw new Failure(
                Failure.Code.INTERNAL,
                "starting the client of volume " + key.volumeId() + " failed: " + why);
          }
        },
        executor);
  }

  private RunningClient startBlocking(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit) {
    // Adopting or discarding another key's client would hijack or kill it.
    if (previous.isPresent() && !previous.get().key().equals(key)) {
      throw new IllegalArgumentException(
          "the previous client belongs to " + previous.get().key() + ", not " + key);
    }
    if (previous.isPresent() && adoptable(previous.get())) {
      return adopt(previous.get(), settings.resources(), onExit);
    }
    plan.check(key, settings);
    previous.ifPresent(this::discard);

    Path mountPath = mountPathOf(key);
    clearMountPoint(mountPath);
    try {
      Files.createDirectories(mountPath);
    } catch (IOException e) {
      throw new Failure(
          Failure.Code.INTERNAL, "cannot create mount point " + mountPath + ": " + e.getMessage());
    }
    Redactor redactor = Redactor.forSettings(settings);
    ClientLog clientLog = new ClientLog(config.stateDir(), SafeNames.of(key));
    ClientPlan.Command command;
    try {
      command = plan.prepare(key, settings, mountPath, redactor, clientLog);
    } catch (RuntimeException e) {
      MountCheck.removeEmptyDir(mountPath);
      throw e;
    }
    return startup.launch(
        key, settings.resources(), mountPath, command, redactor, clientLog, onExit);
  }

  private boolean adoptable(RunningClient previous) {
    long pid = ExitWatcher.parsePid(previous.handle());
    return pid > 0
        && ProcInfo.runsClientFor(pid, previous.mountPath(), programs())
        && MountCheck.answeringFuse(mounter, previous.mountPath());
  }

  private RunningClient adopt(
      RunningClient previous, ClientResources resources, Consumer<ClientExit> onExit) {
    long pid = ExitWatcher.parsePid(previous.handle());
    cgroups.adopt(previous.key(), resources, pid);
    // Not ProcessHandle.onExit(): for a process that is not our child it takes a JDK thread per
    // client that polls ever more slowly (up to 5 s apart); adoptedExits polls all on one thread.
    CompletableFuture<?> exit =
        ProcessHandle.of(pid)
            .map(adoptedExits::onExit)
            .orElseGet(() -> CompletableFuture.completedFuture(null));
    exits.watch(previous, exit, () -> "client process " + pid + " exited", onExit);
    log.info("adopted client {} (pid {}) at {}", previous.key(), pid, previous.mountPath());
    return previous;
  }

  /** An earlier client that cannot be adopted: end it if it still runs, drop its mount. */
  private void discard(RunningClient previous) {
    long pid = ExitWatcher.parsePid(previous.handle());
    if (pid > 0 && ProcInfo.runsClientFor(pid, previous.mountPath(), programs())) {
      log.info(
          "killing client {} (pid {}): its mount at {} does not answer",
          previous.key(),
          pid,
          previous.mountPath());
      exits.markStopping(previous);
      ProcInfo.terminate(pid, config.stopGrace());
    }
    // The next client of this key makes its cgroup again; a start that fails before then leaves
    // none.
    cgroups.remove(previous.key());
    if (!previous.mountPath().equals(mountPathOf(previous.key()))) {
      clearMountPoint(previous.mountPath());
      MountCheck.removeEmptyDir(previous.mountPath());
    }
  }

  private void clearMountPoint(Path mountPath) {
    if (MountCheck.hasMount(mounter, mountPath)) {
      log.info("unmounting what a dead client left at {}", mountPath);
      try {
        mounter.unmount(mountPath);
      } catch (MountException e) {
        throw new Failure(
            Failure.Code.UNAVAILABLE,
            "cannot unmount the stale mount at " + mountPath + ": " + e.getMessage());
      }
    }
  }

  @Override
  public CompletionStage<Void> stop(RunningClient client) {
    return CompletableFuture.runAsync(() -> stopBlocking(client), executor);
  }

  /** Ends the client (SIGTERM, {@code client.stop-grace}, SIGKILL), then clears its mount point. */
  private void stopBlocking(RunningClient client) {
    long pid = ExitWatcher.parsePid(client.handle());
    boolean killed = false;
    boolean survived = false;
    if (pid > 0 && ProcInfo.runsClientFor(pid, client.mountPath(), programs())) {
      exits.markStopping(client);
      if (!ProcInfo.terminate(pid, config.stopGrace())) {
        log.error("client {} (pid {}) survived SIGKILL", client.key(), pid);
        survived = true;
      }
      killed = true;
    }
    if (!survived) {
      cgroups.remove(client.key());
    }
    boolean unmounted = MountCheck.hasMount(mounter, client.mountPath());
    if (unmounted) {
      try {
        mounter.unmount(client.mountPath());
      } catch (MountException e) {
        throw new Failure(
            Failure.Code.INTERNAL, "cannot unmount " + client.mountPath() + ": " + e.getMessage());
      }
    }
    boolean removed = MountCheck.removeEmptyDir(client.mountPath());
    exits.sweep();
    if (killed || unmounted || removed) {
      log.info(
          "stopped client {} (pid {}) at {}", client.key(), client.handle(), client.mountPath());
    } else {
      log.debug("client {} (pid {}) was already stopped", client.key(), client.handle());
    }
  }

  @Override
  public void save(ClientRecord record) {
    records.save(record);
  }

  @Override
  public void record(RecordChange change) {
    records.record(change);
  }

  @Override
  public void remove(ClientKey key) {
    records.remove(key);
  }

  @Override
  public List<ClientRecord> load() {
    return records.load();
  }

  @Override
  public CompletionStage<Void> cleanCache(ClientKey key, VolumeSettings settings) {
    return CompletableFuture.runAsync(() -> cache.clean(key, settings, records.load()), executor);
  }

  @Override
  public QuotaOutcome setQuota(VolumeSettings volume, DirectoryQuota quota) {
    return quotas.set(volume, quota);
  }

  @Override
  public void copyDirectory(VolumeSettings fs, PathBeneath source, PathBeneath target) {
    clones.copy(fs, source, target);
  }

  @Override
  public boolean ready() {
    boolean binary =
        Files.isExecutable(config.bindfsBinary()) || Files.isExecutable(config.juicefsBinary());
    boolean setsid = Files.isExecutable(ClientLauncher.setsid());
    boolean dirs = writableDirectory(config.mountRoot()) && writableDirectory(config.stateDir());
    if (!(binary && setsid && dirs)) {
      log.warn(
          "local runtime not ready: client binary {}, setsid {}, writable directories {}",
          binary,
          setsid,
          dirs);
    }
    return binary && setsid && dirs;
  }

  private static boolean writableDirectory(Path dir) {
    try {
      Files.createDirectories(dir);
      return Files.isWritable(dir);
    } catch (IOException e) {
      return false;
    }
  }

  private Set<String> programs() {
    return Set.copyOf(
        List.of(
            "bindfs",
            "juicefs",
            config.bindfsBinary().getFileName().toString(),
            config.juicefsBinary().getFileName().toString()));
  }
}

package io.jfscsi.testing;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.ExitOverride;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.host.MountState;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * An in-memory {@link MountRuntime} for actor tests. A "client" is a FUSE mount in the {@link
 * FakeMounter} at {@code mountRoot/<key name>} (a real directory, so that sub-paths can be created
 * in it). Clients start at once, or, after {@link #holdStarts}, only when the test completes the
 * {@link PendingStart}. Records live in memory, so a driver restart is a new guardian on the same
 * runtime and mounter.
 */
public final class FakeRuntime implements MountRuntime {

  /** A start the test has to complete or fail; the client comes up only then. */
  public final class PendingStart {
    private final ClientKey key;
    private final VolumeSettings settings;
    private final Optional<RunningClient> previous;
    private final Consumer<ClientExit> onExit;
    private final Consumer<StartProgress> onProgress;
    private final CompletableFuture<RunningClient> future = new CompletableFuture<>();

    private PendingStart(
        ClientKey key,
        VolumeSettings settings,
        Optional<RunningClient> previous,
        Consumer<ClientExit> onExit,
        Consumer<StartProgress> onProgress) {
      this.key = key;
      this.settings = settings;
      this.previous = previous;
      this.onExit = onExit;
      this.onProgress = onProgress;
    }

    /** The start says what it waits on, as a real runtime does while its client comes up. */
    public void report(StartProgress progress) {
      onProgress.accept(progress);
    }

    public ClientKey key() {
      return key;
    }

    /** Whether this start would adopt a client that an earlier driver started. */
    public boolean adopts() {
      return adoptable(key, previous).isPresent();
    }

    /** Adopts the earlier client if it still runs, else brings a new one up; completes. */
    public RunningClient complete() {
      RunningClient client =
          adoptable(key, previous)
              .map(alive -> adopt(alive, onExit))
              .orElseGet(() -> launch(key, settings, onExit));
      future.complete(client);
      return client;
    }

    /**
     * The client comes up and dies at once, and its death is reported before the start completes
     * (onExit and the start's completion may run on different threads in a real runtime).
     */
    public RunningClient completeAfterItsDeath(String reason) {
      RunningClient client = launch(key, settings, onExit);
      running.remove(key);
      events.add("crash " + key.name());
      mounter.killFileSystem(client.mountPath());
      onExit.accept(new ClientExit(client, reason));
      future.complete(client);
      return client;
    }

    /** Fails the start with {@code failure}; nothing runs. */
    public void fail(Failure failure) {
      future.completeExceptionally(failure);
    }
  }

  private record Running(RunningClient client, Consumer<ClientExit> onExit) {}

  private final FakeMounter mounter;
  private final Path mountRoot;
  private final Clock clock;
  private final Map<ClientKey, Running> running = new ConcurrentHashMap<>();
  private final Map<String, Running> unnoticed = new ConcurrentHashMap<>();
  private final Map<ClientKey, ClientRecord> records = new ConcurrentHashMap<>();
  private final List<ClientRecord> saved = new CopyOnWriteArrayList<>();
  private final List<String> events = new CopyOnWriteArrayList<>();
  private final BlockingQueue<PendingStart> pending = new LinkedBlockingQueue<>();
  private final AtomicBoolean holdStarts = new AtomicBoolean();
  private final AtomicReference<Failure> nextStartFailure = new AtomicReference<>();
  private final AtomicReference<Failure> everyStartFailure = new AtomicReference<>();
  private final AtomicReference<Consumer<ClientRecord>> saveHook = new AtomicReference<>(r -> {});
  private final AtomicInteger starts = new AtomicInteger();
  private final AtomicInteger launches = new AtomicInteger();
  private final AtomicInteger adoptions = new AtomicInteger();
  private final AtomicInteger stops = new AtomicInteger();
  private final AtomicInteger cacheCleans = new AtomicInteger();
  private final AtomicInteger handles = new AtomicInteger();

  /** What the runtime says of each new client's exit (a Mount Pod's ConfigMap annotations). */
  private volatile ExitOverride exitOverride = ExitOverride.NONE;

  private final AtomicReference<Duration> stopTime = new AtomicReference<>(Duration.ZERO);
  private final AtomicInteger stopsUnderway = new AtomicInteger();
  private final AtomicInteger mostStopsUnderway = new AtomicInteger();

  public FakeRuntime(FakeMounter mounter, Path mountRoot, Clock clock) {
    this.mounter = mounter;
    this.mountRoot = mountRoot;
    this.clock = clock;
  }

  // ---- the port -------------------------------------------------------------------------

  @Override
  public CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit) {
    return start(key, settings, previous, onExit, progress -> {});
  }

  @Override
  public CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit,
      Consumer<StartProgress> onProgress) {
    starts.incrementAndGet();
    events.add("start " + key.name());
    Failure failure = nextStartFailure.getAndSet(null);
    if (failure == null) {
      failure = everyStartFailure.get();
    }
    if (failure != null) {
      return CompletableFuture.failedFuture(failure);
    }
    if (holdStarts.get()) {
      PendingStart start = new PendingStart(key, settings, previous, onExit, onProgress);
      pending.add(start);
      return start.future;
    }
    return CompletableFuture.completedFuture(
        adoptable(key, previous)
            .map(alive -> adopt(alive, onExit))
            .orElseGet(() -> launch(key, settings, onExit)));
  }

  /** At once, or after {@link #stopsTake} on a thread of its own, as a real runtime does. */
  @Override
  public CompletionStage<Void> stop(RunningClient client) {
    Duration time = stopTime.get();
    if (time.isZero()) {
      stopNow(client);
      return CompletableFuture.completedFuture(null);
    }
    int underway = stopsUnderway.incrementAndGet();
    mostStopsUnderway.accumulateAndGet(underway, Math::max);
    CompletableFuture<Void> stopped = new CompletableFuture<>();
    Thread.ofVirtual()
        .name("fake-stop-" + client.handle())
        .start(
            () -> {
              try {
                Thread.sleep(time);
                stopNow(client);
                stopped.complete(null);
              } catch (InterruptedException | RuntimeException e) {
                stopped.completeExceptionally(e);
              } finally {
                stopsUnderway.decrementAndGet();
              }
            });
    return stopped;
  }

  private void stopNow(RunningClient client) {
    Running r = running.get(client.key());
    if (r == null || !r.client().handle().equals(client.handle())) {
      // Already dead: only clear the stale mount point it left, as a real runtime does.
      if (running.get(client.key()) == null
          && mounter.probe(client.mountPath()) == MountState.STALE) {
        unmountQuietly(client.mountPath());
        events.add("clear " + client.key().name());
      }
      return;
    }
    running.remove(client.key());
    stops.incrementAndGet();
    events.add("stop " + client.key().name());
    // Binds that still show the file system go stale when the client is gone.
    mounter.killFileSystem(client.mountPath());
    unmountQuietly(client.mountPath());
  }

  @Override
  public void save(ClientRecord record) {
    saveHook.get().accept(record);
    records.put(record.key(), record);
    saved.add(record);
    events.add("save " + record.key().name() + " " + new TreeSet<>(record.targets()));
  }

  /** As {@link #save} of the record the change makes; nothing when there is no record to change. */
  @Override
  public void record(RecordChange change) {
    ClientRecord current = records.get(change.key());
    if (current != null) {
      save(change.applyTo(current));
    }
  }

  @Override
  public void remove(ClientKey key) {
    records.remove(key);
    events.add("remove " + key.name());
  }

  @Override
  public List<ClientRecord> load() {
    Failure failure = loadFailure.get();
    if (failure != null) {
      try {
        loadGate.get().await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      throw failure;
    }
    return List.copyOf(records.values());
  }

  private final AtomicReference<Failure> loadFailure = new AtomicReference<>();
  private final AtomicReference<CountDownLatch> loadGate = new AtomicReference<>();

  /**
   * Makes every {@link #load} throw {@code failure} once {@code gate} opens, as an API server that
   * cannot be reached.
   */
  public void failLoad(Failure failure, CountDownLatch gate) {
    loadGate.set(gate);
    loadFailure.set(failure);
  }

  private final Set<Path> podsGone = ConcurrentHashMap.newKeySet();

  /**
   * Makes {@link #podGone} say that the pod of {@code target} is gone (as a pod informer would).
   */
  public void markPodGone(Path target) {
    podsGone.add(target);
  }

  @Override
  public boolean podGone(Path target) {
    return podsGone.contains(target);
  }

  @Override
  public CompletionStage<Void> cleanCache(ClientKey key, VolumeSettings settings) {
    cacheCleans.incrementAndGet();
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public boolean ready() {
    return true;
  }

  // ---- what tests do to it --------------------------------------------------------------

  /** New clients report this exit override, as Mount Pods patched by the global ConfigMap do. */
  public void exitOverride(ExitOverride override) {
    this.exitOverride = override;
  }

  /**
   * From now on starts (adoptions included) wait until the test completes them (see {@link
   * #nextPendingStart}).
   */
  public void holdStarts() {
    holdStarts.set(true);
  }

  /** Starts complete at once again (starts already pending stay pending). */
  public void releaseStarts() {
    holdStarts.set(false);
  }

  /** The next held start, waiting up to 3 seconds for the actor to ask for it. */
  public PendingStart nextPendingStart() {
    try {
      PendingStart start = pending.poll(3, TimeUnit.SECONDS);
      if (start == null) {
        throw new AssertionError("no client start was requested within 3 seconds");
      }
      return start;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  public int pendingStarts() {
    return pending.size();
  }

  /** From now on every stop takes {@code time} (of real time) before the client is gone. */
  public void stopsTake(Duration time) {
    stopTime.set(time);
  }

  /** Stops asked for and not finished yet. */
  public int stopsUnderway() {
    return stopsUnderway.get();
  }

  /** The most stops that were underway at once. */
  public int mostStopsUnderway() {
    return mostStopsUnderway.get();
  }

  /** The next start (not an adoption) fails with {@code failure}. */
  public void failNextStart(Failure failure) {
    nextStartFailure.set(failure);
  }

  /** Every start (not an adoption) fails with {@code failure} until {@code null} is passed. */
  public void failEveryStart(Failure failure) {
    everyStartFailure.set(failure);
  }

  /**
   * Called inside {@link #save} before the record is kept; a hook that throws makes the save fail,
   * one that blocks holds the saving actor.
   */
  public void onSave(Consumer<ClientRecord> hook) {
    saveHook.set(hook == null ? r -> {} : hook);
  }

  /**
   * The client of {@code key} dies: its file system goes stale (and every bind of it) and its
   * {@code onExit} is called, as a real runtime would.
   */
  public RunningClient crash(ClientKey key, String reason) {
    Running r = running.remove(key);
    if (r == null) {
      throw new AssertionError("no client runs for " + key);
    }
    events.add("crash " + key.name());
    mounter.killFileSystem(r.client().mountPath());
    r.onExit().accept(new ClientExit(r.client(), reason));
    return r.client();
  }

  /**
   * The client of {@code key} dies but the runtime has not noticed yet: its file system goes stale,
   * nobody is told, and the runtime still lists it as running until {@link #reportExit} (or a new
   * start for the key replaces it).
   */
  public RunningClient dieUnnoticed(ClientKey key) {
    Running r = running.get(key);
    if (r == null) {
      throw new AssertionError("no client runs for " + key);
    }
    unnoticed.put(r.client().handle(), r);
    events.add("died unnoticed " + key.name());
    mounter.killFileSystem(r.client().mountPath());
    return r.client();
  }

  /** The runtime notices, late, the death of a client from {@link #dieUnnoticed}. */
  public void reportExit(RunningClient client, String reason) {
    Running r = unnoticed.remove(client.handle());
    if (r == null) {
      throw new AssertionError("client " + client.handle() + " did not die unnoticed");
    }
    running.remove(client.key(), r);
    r.onExit().accept(new ClientExit(client, reason));
  }

  /** The client of {@code key} died while no driver was watching: nobody is told. */
  public RunningClient dieSilently(ClientKey key) {
    Running r = running.remove(key);
    if (r == null) {
      throw new AssertionError("no client runs for " + key);
    }
    events.add("died " + key.name());
    mounter.killFileSystem(r.client().mountPath());
    return r.client();
  }

  public boolean isRunning(ClientKey key) {
    return running.containsKey(key);
  }

  private final AtomicBoolean passesFuseFds = new AtomicBoolean();
  private final AtomicInteger upgrades = new AtomicInteger();

  /** Whether {@link #upgrade} hands a client's FUSE connection on; refused by default. */
  public void passesFuseFds(boolean passes) {
    passesFuseFds.set(passes);
  }

  public int upgrades() {
    return upgrades.get();
  }

  private final AtomicBoolean holdUpgrades = new AtomicBoolean();
  private final BlockingQueue<Runnable> heldUpgrades = new LinkedBlockingQueue<>();
  private final Map<ClientKey, Failure> upgradeFailures = new ConcurrentHashMap<>();

  /** Whether an upgrade waits for {@link #releaseUpgrade} before it takes over. */
  public void holdUpgrades(boolean hold) {
    holdUpgrades.set(hold);
  }

  /** Upgrades held and not released yet. */
  public int heldUpgrades() {
    return heldUpgrades.size();
  }

  /** Lets the oldest held upgrade take over (or fail as it was told to). */
  public void releaseUpgrade() {
    Runnable held = heldUpgrades.poll();
    if (held == null) {
      throw new IllegalStateException("no upgrade is held");
    }
    held.run();
  }

  /** The next upgrade of {@code key} ends with {@code failure} (a refusal or a failed takeover). */
  public void failUpgradeOf(ClientKey key, Failure failure) {
    upgradeFailures.put(key, failure);
  }

  /** A new client at the same mount path takes over; no mount changes, as with a real keeper. */
  @Override
  public CompletionStage<RunningClient> upgrade(
      RunningClient client, VolumeSettings settings, Consumer<ClientExit> onExit) {
    if (!passesFuseFds.get()) {
      return MountRuntime.super.upgrade(client, settings, onExit);
    }
    upgrades.incrementAndGet();
    CompletableFuture<RunningClient> answer = new CompletableFuture<>();
    Runnable takeOver =
        () -> {
          Failure failure = upgradeFailures.remove(client.key());
          if (failure != null) {
            if (failure.code() != Failure.Code.FAILED_PRECONDITION) {
              // A failed takeover leaves no client, as the real one drops the connection.
              running.remove(client.key());
            }
            answer.completeExceptionally(failure);
            return;
          }
          RunningClient next =
              new RunningClient(
                  client.key(), client.mountPath(), client.handle() + "-upgraded", clock.instant());
          running.put(client.key(), new Running(next, onExit));
          events.add("upgrade " + client.handle());
          answer.complete(next);
        };
    if (holdUpgrades.get()) {
      heldUpgrades.add(takeOver);
    } else {
      takeOver.run();
    }
    return answer;
  }

  public Optional<RunningClient> running(ClientKey key) {
    return Optional.ofNullable(running.get(key)).map(Running::client);
  }

  public List<RunningClient> runningClients() {
    List<RunningClient> all = new ArrayList<>();
    running.values().forEach(r -> all.add(r.client()));
    return all;
  }

  public Optional<ClientRecord> record(ClientKey key) {
    return Optional.ofNullable(records.get(key));
  }

  public List<ClientRecord> records() {
    return load();
  }

  /** Every record passed to {@link #save}, in order. */
  public List<ClientRecord> savedRecords() {
    return List.copyOf(saved);
  }

  /** start / save / remove / stop / crash events in the order they happened. */
  public List<String> events() {
    return List.copyOf(events);
  }

  /** Calls of {@link #start}, adoptions and failures included. */
  public int startCount() {
    return starts.get();
  }

  /** Clients actually brought up (new processes). */
  public int launchCount() {
    return launches.get();
  }

  public int adoptionCount() {
    return adoptions.get();
  }

  public int stopCount() {
    return stops.get();
  }

  public int cacheCleanCount() {
    return cacheCleans.get();
  }

  public Path mountPathOf(ClientKey key) {
    return mountRoot.resolve(key.name());
  }

  // ---- internals ------------------------------------------------------------------------

  /** The earlier client named by {@code previous}, if it still runs. */
  private Optional<RunningClient> adoptable(ClientKey key, Optional<RunningClient> previous) {
    Running alive = running.get(key);
    return previous
        .filter(p -> alive != null && alive.client().handle().equals(p.handle()))
        .map(p -> alive.client());
  }

  /** The earlier driver's client keeps running; its exit now reaches the new caller. */
  private RunningClient adopt(RunningClient alive, Consumer<ClientExit> onExit) {
    running.put(alive.key(), new Running(alive, onExit));
    adoptions.incrementAndGet();
    events.add("adopt " + alive.key().name() + " " + alive.handle());
    return alive;
  }

  private RunningClient launch(
      ClientKey key, VolumeSettings settings, Consumer<ClientExit> onExit) {
    Path mountPath = mountPathOf(key);
    try {
      Files.createDirectories(mountPath);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    // A new client cannot mount over what a dead one left: clear the mount point first.
    unmountQuietly(mountPath);
    mounter.mountFuse(mountPath, "JuiceFS:" + settings.fsName());
    RunningClient client =
        new RunningClient(
            key, mountPath, "fake-" + handles.incrementAndGet(), clock.instant(), exitOverride);
    running.put(key, new Running(client, onExit));
    launches.incrementAndGet();
    events.add("launch " + key.name() + " " + client.handle());
    return client;
  }

  private void unmountQuietly(Path mountPath) {
    mounter.forget(mountPath);
  }
}

package io.jfscsi.testing;

import io.jfscsi.host.FsStats;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.PathBeneath;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;

/**
 * An in-memory mount table for actor tests. Directories are real (tests use a {@code @TempDir}),
 * mounts are not. It models what matters for recovery:
 *
 * <ul>
 *   <li>Every mount belongs to a file system instance. A client's FUSE mount ({@link #mountFuse})
 *       is a new instance; a bind ({@link #bind}) shares the instance that serves its source.
 *   <li>When a FUSE client dies ({@link #killFileSystem}) its instance is dead: its own mount point
 *       and every bind of it probe {@link MountState#STALE}, and they stay stale after a new client
 *       mounts at the same path, until they are unmounted and bound again (as on Linux).
 *   <li>Mounts stack: binding onto a mount point adds a layer; {@link #unmount} removes them all.
 * </ul>
 *
 * <p>Thread-safe (the actors call it from the mount dispatcher while the test inspects it).
 */
public final class FakeMounter implements Mounter {

  public static final int ENOENT = 2;
  public static final int EIO = 5;
  public static final int ENOTCONN = 107;
  public static final int ENOTDIR = 20;
  public static final int EXDEV = 18;
  public static final int ELOOP = 40;

  /** One file system instance: a FUSE client's mount, or the host's own file system. */
  private static final class Fs {
    final long id;
    final String device;
    final String fsType;
    volatile boolean dead;

    Fs(long id, String device, String fsType) {
      this.id = id;
      this.device = device;
      this.fsType = fsType;
    }
  }

  /** One layer of a mount point. {@code stale} marks this one mount point alone as broken. */
  private record Layer(int id, Fs fs, String root, boolean readOnly, boolean stale) {}

  private final Fs host = new Fs(0, "/dev/fake-root", "ext4");
  private final Map<Path, List<Layer>> table = new ConcurrentHashMap<>();
  private final AtomicLong fsIds = new AtomicLong();
  private final AtomicInteger mountIds = new AtomicInteger(100);
  private final AtomicReference<MountException> nextBindFailure = new AtomicReference<>();
  private final AtomicReference<MountException> nextUnmountFailure = new AtomicReference<>();
  private final AtomicReference<Consumer<Path>> bindHook = new AtomicReference<>(t -> {});
  private final AtomicInteger binds = new AtomicInteger();
  private final AtomicInteger unmounts = new AtomicInteger();
  private final AtomicInteger probes = new AtomicInteger();

  // ---- the port -------------------------------------------------------------------------

  @Override
  public void bind(Path source, Path target, boolean readOnly) throws MountException {
    bindHook.get().accept(target);
    MountException injected = nextBindFailure.getAndSet(null);
    if (injected != null) {
      throw injected;
    }
    if (!Files.isDirectory(target)) {
      throw new MountException("mount target " + target + " does not exist", ENOENT);
    }
    Optional<Map.Entry<Path, Layer>> serving = servingMount(source);
    if (serving.isPresent() && isStale(serving.get().getValue())) {
      throw new MountException(
          "cannot stat " + source + ": Transport endpoint is not connected", ENOTCONN);
    }
    if (!Files.exists(source)) {
      throw new MountException("mount source " + source + " does not exist", ENOENT);
    }
    Fs fs = serving.map(e -> e.getValue().fs()).orElse(host);
    String root =
        serving.map(e -> rootOf(e.getValue(), e.getKey(), source)).orElse(source.toString());
    push(target, new Layer(mountIds.incrementAndGet(), fs, root, readOnly, false));
    binds.incrementAndGet();
  }

  /**
   * Resolves both paths as the real mounter does (no symbolic link on the way, missing source
   * directories made with {@code createSource}), then binds by path: the fake models the answers,
   * not the race the real one closes.
   */
  @Override
  public void bind(PathBeneath source, PathBeneath target, boolean readOnly, boolean createSource)
      throws MountException {
    Path from = resolve(source, createSource);
    bind(from, resolve(target, false), readOnly);
  }

  @Override
  public boolean createTarget(PathBeneath target) throws MountException {
    Path parent = target.path().getParent();
    resolve(PathBeneath.of(target.root(), parent), false);
    try {
      Files.createDirectory(target.path());
      return true;
    } catch (FileAlreadyExistsException e) {
      return false;
    } catch (IOException e) {
      throw new MountException("mkdir " + target + ": " + e.getMessage(), EIO);
    }
  }

  private static Path resolve(PathBeneath at, boolean create) throws MountException {
    Path p = at.root();
    for (String name : at.relative().split("/")) {
      if (name.isEmpty()) {
        continue;
      }
      if (name.equals("..") || name.equals(".")) {
        throw new MountException(at + ": '" + name + "' is not allowed", EXDEV);
      }
      p = p.resolve(name);
      if (Files.isSymbolicLink(p)) {
        throw new MountException(at + " crosses a symbolic link", ELOOP);
      }
      if (!Files.exists(p) && create) {
        try {
          Files.createDirectory(p);
        } catch (IOException e) {
          throw new MountException("mkdir " + p + ": " + e.getMessage(), EIO);
        }
      }
      if (!Files.exists(p)) {
        throw new MountException(at + " does not exist", ENOENT);
      }
      if (!Files.isDirectory(p)) {
        throw new MountException(at + " is not a directory", ENOTDIR);
      }
    }
    return p;
  }

  @Override
  public void unmount(Path target) throws MountException {
    MountException injected = nextUnmountFailure.getAndSet(null);
    if (injected != null) {
      throw injected;
    }
    if (table.remove(target) != null) {
      unmounts.incrementAndGet();
    }
  }

  @Override
  public MountState probe(Path path) {
    probes.incrementAndGet();
    Optional<Layer> top = top(path);
    if (top.isPresent()) {
      return isStale(top.get()) ? MountState.STALE : MountState.MOUNTED;
    }
    return Files.exists(path) ? MountState.NOT_MOUNTED : MountState.MISSING;
  }

  @Override
  public FsStats stats(Path path) throws MountException {
    Optional<Map.Entry<Path, Layer>> serving = servingMount(path);
    if (serving.isPresent() && isStale(serving.get().getValue())) {
      throw new MountException(
          "statfs " + path + ": Transport endpoint is not connected", ENOTCONN);
    }
    if (serving.isEmpty() && !Files.exists(path)) {
      throw new MountException("statfs " + path + ": No such file or directory", ENOENT);
    }
    return new FsStats(1L << 30, 3L << 28, 1L << 28, 1000, 750, 250);
  }

  @Override
  public List<MountEntry> mounts() {
    List<MountEntry> entries = new ArrayList<>();
    table.forEach(
        (point, layers) -> {
          for (Layer l : layers) {
            entries.add(
                new MountEntry(
                    l.id(),
                    1,
                    "0:" + l.fs().id,
                    l.root(),
                    point,
                    l.readOnly() ? "ro,relatime" : "rw,relatime",
                    l.fs().fsType,
                    l.fs().device,
                    "rw",
                    ""));
          }
        });
    entries.sort(Comparator.comparingInt(MountEntry::id));
    return entries;
  }

  // ---- what tests and the fake runtime do to it -----------------------------------------

  /** Mounts a new FUSE file system instance at {@code mountPoint} (a client came up). */
  public void mountFuse(Path mountPoint, String device) {
    Fs fs = new Fs(fsIds.incrementAndGet(), device, "fuse.juicefs");
    push(mountPoint, new Layer(mountIds.incrementAndGet(), fs, "/", false, false));
  }

  /**
   * The FUSE client serving {@code mountPoint} died: that mount point and every bind of its file
   * system go stale. Returns false when nothing is mounted there.
   */
  public boolean killFileSystem(Path mountPoint) {
    Optional<Layer> top = top(mountPoint);
    top.ifPresent(l -> l.fs().dead = true);
    return top.isPresent();
  }

  /** Marks only the mount at {@code target} stale, as if its own connection broke. */
  public void markStale(Path target) {
    table.computeIfPresent(
        target,
        (p, layers) -> {
          List<Layer> copy = new ArrayList<>(layers);
          Layer topLayer = copy.removeLast();
          copy.add(
              new Layer(topLayer.id(), topLayer.fs(), topLayer.root(), topLayer.readOnly(), true));
          return List.copyOf(copy);
        });
  }

  /** Removes every mount at {@code target} behind the driver's back (manual umount, reboot). */
  public void forget(Path target) {
    table.remove(target);
  }

  /** The next {@link #bind} throws this (once). */
  public void failNextBind(MountException failure) {
    nextBindFailure.set(failure);
  }

  public void failNextBind() {
    failNextBind(new MountException("injected bind failure", EIO));
  }

  /**
   * Called with the target at the start of every {@link #bind}, on the binding actor's thread: a
   * hook that blocks holds that actor mid-publish, so a test can order other messages around it.
   */
  public void onBind(Consumer<Path> hook) {
    bindHook.set(hook == null ? t -> {} : hook);
  }

  /** Drops failures injected for the next bind or unmount that have not been used. */
  public void clearInjectedFailures() {
    nextBindFailure.set(null);
    nextUnmountFailure.set(null);
  }

  /** The next {@link #unmount} throws this (once). */
  public void failNextUnmount(MountException failure) {
    nextUnmountFailure.set(failure);
  }

  public boolean isMounted(Path target) {
    return probe(target) == MountState.MOUNTED;
  }

  /** How many layers are stacked at {@code target} (0 when it is not a mount point). */
  public int layers(Path target) {
    List<Layer> layers = table.get(target);
    return layers == null ? 0 : layers.size();
  }

  /**
   * How many live layers are stacked at {@code target}: a recovery stacks the fresh bind on the
   * dead ones, so a served target has exactly one live layer, on top.
   */
  public int liveLayers(Path target) {
    List<Layer> layers = table.get(target);
    return layers == null ? 0 : (int) layers.stream().filter(l -> !isStale(l)).count();
  }

  /** Whether the top mount at {@code target} is read-only; empty when nothing is mounted. */
  public Optional<Boolean> readOnly(Path target) {
    return top(target).map(Layer::readOnly);
  }

  /** The path inside its file system that {@code target} shows, e.g. "/" or "/sub". */
  public Optional<String> rootOf(Path target) {
    return top(target).map(Layer::root);
  }

  /** Whether {@code target} shows the file system currently mounted at {@code mountPoint}. */
  public boolean sameFileSystem(Path target, Path mountPoint) {
    Optional<Layer> a = top(target);
    Optional<Layer> b = top(mountPoint);
    return a.isPresent() && b.isPresent() && a.get().fs() == b.get().fs();
  }

  /** Every mount point, bind and FUSE alike. */
  public List<Path> mountPoints() {
    return List.copyOf(table.keySet());
  }

  public int bindCount() {
    return binds.get();
  }

  public int unmountCount() {
    return unmounts.get();
  }

  public int probeCount() {
    return probes.get();
  }

  // ---- internals ------------------------------------------------------------------------

  private void push(Path target, Layer layer) {
    table.merge(
        target,
        List.of(layer),
        (old, add) -> {
          List<Layer> both = new ArrayList<>(old);
          both.addAll(add);
          return List.copyOf(both);
        });
  }

  private Optional<Layer> top(Path path) {
    List<Layer> layers = table.get(path);
    return layers == null || layers.isEmpty() ? Optional.empty() : Optional.of(layers.getLast());
  }

  private static boolean isStale(Layer layer) {
    return layer.stale() || layer.fs().dead;
  }

  /** The mount point that serves {@code path}: the longest mount point that contains it. */
  private Optional<Map.Entry<Path, Layer>> servingMount(Path path) {
    Path best = null;
    for (Path point : table.keySet()) {
      if (path.startsWith(point) && (best == null || point.getNameCount() > best.getNameCount())) {
        best = point;
      }
    }
    if (best == null) {
      return Optional.empty();
    }
    Optional<Layer> layer = top(best);
    Path found = best;
    return layer.map(l -> Map.entry(found, l));
  }

  private static String rootOf(Layer serving, Path servingPoint, Path source) {
    Path inside = servingPoint.relativize(source);
    String base = serving.root().equals("/") ? "" : serving.root();
    return inside.toString().isEmpty() ? (base.isEmpty() ? "/" : base) : base + "/" + inside;
  }
}

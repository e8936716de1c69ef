package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;
import org.slf4j.Logger;

/**
 * The references of one client (target path to read-only and the volume it shows) and the host-side
 * work on them: binding a target from its volume's directory of the client's mount point, binding
 * stale targets again after a restart, unbinding, and dropping targets whose pod is gone. In a
 * share mode the targets of several volumes reference one client, each bound to its own
 * sub-directory. A plain object owned by one {@link MountActor} and called only from its mailbox,
 * so it needs no lock. Insertion order keeps logs and views stable.
 */
final class Targets {

  /**
   * What {@link #rebind} did: which targets it dropped, the last error, and the containers that
   * still hold a dead copy after it (to be tried again).
   */
  record Rebound(
      List<Path> dropped, Optional<String> error, List<ContainerOutcome> containersLeft) {}

  /** What one target is bound as. */
  record Held(boolean readOnly, TargetVolume volume) {}

  private final ClientKey key;

  /** The volume of the client's settings: what a target shows unless it says otherwise. */
  private final TargetVolume own;

  private final Mounter mounter;
  private final ContainerRecovery containers;

  /** Targets are made and bound beneath it (the kubelet root), never through a symlink. */
  private final Path targetRoot;

  private final Logger log;
  private final Map<Path, Held> held = new LinkedHashMap<>();

  Targets(
      ClientKey key,
      VolumeSettings volume,
      Mounter mounter,
      ContainerRecovery containers,
      Path targetRoot,
      Logger log,
      Map<Path, Held> recovered) {
    this.key = key;
    this.own = TargetVolume.of(volume);
    this.mounter = mounter;
    this.containers = containers;
    this.targetRoot = targetRoot;
    this.log = log;
    this.held.putAll(recovered);
  }

  boolean isEmpty() {
    return held.isEmpty();
  }

  boolean holds(Path target) {
    return held.containsKey(target);
  }

  TargetVolume ownVolume() {
    return own;
  }

  /** The volume {@code target} shows, if it is held. */
  Optional<TargetVolume> volumeOf(Path target) {
    return Optional.ofNullable(held.get(target)).map(Held::volume);
  }

  Set<String> readOnlyNames() {
    Set<String> names = new LinkedHashSet<>();
    held.forEach(
        (t, h) -> {
          if (h.readOnly()) {
            names.add(t.toString());
          }
        });
    return names;
  }

  /** The targets that show another volume than the client's own, as a record keeps them. */
  Map<String, TargetVolume> sharedNames() {
    Map<String, TargetVolume> shared = new LinkedHashMap<>();
    held.forEach(
        (t, h) -> {
          if (!h.volume().equals(own)) {
            shared.put(t.toString(), h.volume());
          }
        });
    return shared;
  }

  /** The volume id each target shows, for views. */
  Map<String, String> volumeIds() {
    Map<String, String> ids = new LinkedHashMap<>();
    held.forEach((t, h) -> ids.put(t.toString(), h.volume().volumeId()));
    return ids;
  }

  Set<String> names() {
    Set<String> names = new LinkedHashSet<>();
    held.keySet().forEach(t -> names.add(t.toString()));
    return names;
  }

  /**
   * Binds {@code target} from the client mounted at {@code clientMount} and adds its reference,
   * which {@code save} must persist; leaves nothing half-made when any step fails. Nothing to do
   * when the target is held and mounted already.
   *
   * @throws Failure ALREADY_EXISTS for a conflicting publish, INVALID_ARGUMENT when the subPath or
   *     the target's parent crosses a symbolic link, INTERNAL when a step fails
   */
  void bind(Path target, TargetVolume volume, boolean readOnly, Path clientMount, Runnable save) {
    Held before = held.get(target);
    if (before != null && !before.volume().equals(volume)) {
      throw Failure.alreadyExists(
          "target "
              + target
              + " is already published for volume "
              + before.volume().volumeId()
              + (before.volume().volumeId().equals(volume.volumeId())
                  ? " with subPath '" + before.volume().subPath() + "'"
                  : "")
              + "; unpublish it first");
    }
    Boolean heldReadOnly = before == null ? null : before.readOnly();
    if (heldReadOnly != null && heldReadOnly != readOnly) {
      throw Failure.alreadyExists(
          "volume "
              + volume.volumeId()
              + " is already published at "
              + target
              + " "
              + (heldReadOnly ? "read-only" : "read-write")
              + "; unpublish it before publishing it "
              + (readOnly ? "read-only" : "read-write"));
    }
    // The common publish finds nothing at the target. Creating its directory first proves that
    // (a mount point's name always exists), which spares the probe: two deadline-bound calls on
    // another thread, and a listing of the parent.
    boolean createdTarget = createDirectory(target);
    MountState at = createdTarget ? MountState.MISSING : mounter.probe(target);
    if (at == MountState.MOUNTED) {
      if (heldReadOnly != null) {
        return;
      }
      throw Failure.alreadyExists(
          "target "
              + target
              + " is already a mount point that this driver did not publish for volume "
              + volume.volumeId());
    }
    Path source = source(clientMount, volume);
    try {
      if (at == MountState.STALE) {
        mounter.unmount(target);
      }
      if (!createdTarget && !Files.exists(target)) {
        createdTarget = createDirectory(target);
      }
      bindVolume(clientMount, volume, target, readOnly, true);
    } catch (MountException e) {
      if (createdTarget) {
        deleteQuietly(target);
      }
      if (e.refused()) {
        throw Failure.invalid(
            "cannot publish volume " + volume.volumeId() + " at " + target + ": " + e.getMessage());
      }
      throw Failure.internal("cannot bind " + source + " to " + target + ": " + e.getMessage(), e);
    }
    held.put(target, new Held(readOnly, volume));
    try {
      save.run();
    } catch (RuntimeException e) {
      held.remove(target);
      unmountQuietly(target);
      if (createdTarget) {
        deleteQuietly(target);
      }
      throw Failure.internal("cannot record the reference of " + target + ": " + e.getMessage(), e);
    }
    log.info(
        "volume {} published at {}{} ({} targets on client {})",
        volume.volumeId(),
        target,
        readOnly ? " read-only" : "",
        held.size(),
        key);
  }

  /**
   * Unmounts {@code target}, removes its directory and drops its reference. A target not held is
   * not ours: see {@link UnownedTargets}.
   *
   * @return whether it was held, so that the change must be saved
   */
  boolean unbind(Path target) throws MountException {
    if (!held.containsKey(target)) {
      UnownedTargets.release(mounter, target, key.volumeId(), log);
      return false;
    }
    mounter.unmount(target);
    deleteQuietly(target);
    Held was = held.remove(target);
    if (was != null) {
      log.info(
          "volume {} unpublished from {} ({} targets left on client {})",
          was.volume().volumeId(),
          target,
          held.size(),
          key);
    }
    return was != null;
  }

  /**
   * Drops, and unmounts, every reference whose pod directory is gone, or whose pod {@code podGone}
   * says is gone from the node (a lost unpublish).
   */
  List<Path> dropUnpublished(Predicate<Path> podGone) {
    List<Path> gone = new ArrayList<>();
    for (Path target : held.keySet()) {
      // The pod is gone, or the target is no longer a mount point: an unpublish was lost.
      MountState at =
          Files.exists(target.getParent()) && !podGone.test(target)
              ? mounter.probe(target)
              : MountState.MISSING;
      if (at == MountState.MISSING || at == MountState.NOT_MOUNTED) {
        gone.add(target);
      }
    }
    for (Path target : gone) {
      unmountQuietly(target);
      Held was = held.remove(target);
      log.warn(
          "volume {}: dropped the reference of {}: no longer published (pod gone or "
              + "target unmounted)",
          was.volume().volumeId(),
          target);
    }
    return gone;
  }

  /**
   * After a restart or an adoption: binds again, from the client at {@code clientMount}, every
   * target that is not mounted (a stale bind stays stale after its client restarts), and drops the
   * targets whose pod is gone. A target that cannot be bound is kept (its stats say so).
   *
   * <p>A stale target gets the fresh bind stacked on top of the dead one, not in its place: a
   * container with HostToContainer (or Bidirectional) propagation holds a slave copy of the dead
   * bind itself, so only a mount made on that bind propagates into it; unmounting the dead bind
   * first cuts that link and the container never sees the new one. The dead layers beneath go with
   * the target's unpublish.
   */
  Rebound rebind(Path clientMount) {
    int rebound = 0;
    List<Path> gone = new ArrayList<>();
    Optional<String> error = Optional.empty();
    for (var entry : held.entrySet()) {
      Path target = entry.getKey();
      MountState at = mounter.probe(target);
      if (at == MountState.MOUNTED) {
        continue;
      }
      if (!Files.exists(target.getParent())) {
        gone.add(target);
        continue;
      }
      try {
        if (at != MountState.STALE && !Files.exists(target)) {
          Files.createDirectory(target);
        }
        Held h = entry.getValue();
        bindVolume(clientMount, h.volume(), target, h.readOnly(), false);
        rebound++;
      } catch (IOException | MountException e) {
        error = Optional.of("cannot bind " + target + " again: " + e.getMessage());
        log.error("volume {}: {}", entry.getValue().volume().volumeId(), error.get());
      }
    }
    for (Path target : gone) {
      unmountQuietly(target);
      held.remove(target);
    }
    var table = mounter.mounts();
    int subPaths = 0;
    for (Path target : held.keySet()) {
      subPaths += SubPathBinds.rebind(mounter, table, target, clientMount, log);
    }
    log.info(
        "volume {}: {} targets bound again, {} dropped (pod gone), {} kept, {} subPath "
            + "binds bound again",
        key.volumeId(),
        rebound,
        gone.size(),
        held.size() - rebound,
        subPaths);
    return new Rebound(gone, error, recoverContainers(clientMount));
  }

  /**
   * Containers without HostToContainer propagation hold private copies that the host's binds cannot
   * reach: each is repaired inside its own mount namespace. Returns the copies that are still dead
   * and may be repaired by a later try (not those refused for safety).
   */
  List<ContainerOutcome> recoverContainers(Path clientMount) {
    // One call per volume: each shows its own directory of the client.
    Map<TargetVolume, Set<Path>> byVolume = new LinkedHashMap<>();
    held.forEach((t, h) -> byVolume.computeIfAbsent(h.volume(), v -> new LinkedHashSet<>()).add(t));
    List<ContainerOutcome> left = new ArrayList<>();
    byVolume.forEach(
        (volume, targets) ->
            containers.recover(volume.volumeId(), source(clientMount, volume), targets).stream()
                .filter(ContainerOutcome::retriable)
                .forEach(left::add));
    return left;
  }

  /**
   * Creates the target directory beneath the kubelet root: true if it did, false if something is
   * there already.
   */
  private boolean createDirectory(Path target) {
    try {
      return mounter.createTarget(PathBeneath.of(targetRoot, target));
    } catch (MountException e) {
      if (e.refused()) {
        throw Failure.invalid(
            "cannot create the target directory " + target + ": " + e.getMessage());
      }
      throw Failure.internal(
          "cannot create the target directory " + target + ": " + e.getMessage(), e);
    }
  }

  /**
   * Binds the volume's subPath in the client mounted at {@code clientMount} onto {@code target}:
   * both resolved beneath their roots without crossing a symbolic link (anyone who can write to the
   * volume can plant one pointing at the host), and the directory resolved is the one bound. With
   * {@code createSource} the subPath's missing directories are made on the way.
   */
  private void bindVolume(
      Path clientMount, TargetVolume volume, Path target, boolean readOnly, boolean createSource)
      throws MountException {
    mounter.bind(
        new PathBeneath(clientMount, volume.subPath()),
        PathBeneath.of(targetRoot, target),
        readOnly,
        createSource);
  }

  private static Path source(Path clientMount, TargetVolume volume) {
    return volume.subPath().isEmpty() ? clientMount : clientMount.resolve(volume.subPath());
  }

  private void unmountQuietly(Path target) {
    try {
      mounter.unmount(target);
    } catch (MountException e) {
      log.warn("volume {}: cannot unmount {}: {}", key.volumeId(), target, e.getMessage());
    }
  }

  private static void deleteQuietly(Path target) {
    try {
      Files.deleteIfExists(target);
    } catch (IOException ignored) {
      // A non-empty directory is not ours to remove; kubelet cleans up the rest.
    }
  }
}

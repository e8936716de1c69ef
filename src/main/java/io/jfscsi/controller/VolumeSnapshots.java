package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;

/**
 * The snapshot half of the provisioner, run by its actor one request at a time: a snapshot is a
 * copy of the source volume's directory at {@code .snapshots/<volume>/<name>} ({@link
 * SnapshotHandle}), made whole or not at all, and a restore copies it back into a new volume's
 * directory before the volume is answered. Its messages are the provisioner's {@link
 * VolumeProvisioner.Command}s.
 */
public final class VolumeSnapshots {

  /**
   * CreateSnapshot: a copy of the volume's directory named {@code name}.
   *
   * @param sourceSubPath the volume's directory when the caller knows it (the PV's {@code
   *     subPath}); null: the catalog's, or named after the volume
   */
  public record CreateSnapshot(
      String name,
      String sourceVolumeId,
      String sourceSubPath,
      Map<String, String> secrets,
      ActorRef<StatusReply<SnapshotMade>> replyTo)
      implements VolumeProvisioner.Command {}

  /** A snapshot that is there: its handle, when it was made, the bytes of its files. */
  public record SnapshotMade(SnapshotHandle handle, Instant created, long sizeBytes) {}

  /** DeleteSnapshot by the id CreateSnapshot answered ({@link SnapshotHandle#id()}). */
  public record DeleteSnapshot(
      String snapshotId, Map<String, String> secrets, ActorRef<StatusReply<Done>> replyTo)
      implements VolumeProvisioner.Command {}

  private final VolumeDirectories directories;
  private final VolumeCatalog volumes;
  private final SnapshotCatalog snapshots;
  private final Clock clock;
  private final Logger log;

  VolumeSnapshots(
      VolumeDirectories directories,
      VolumeCatalog volumes,
      SnapshotCatalog snapshots,
      Clock clock,
      Logger log) {
    this.directories = directories;
    this.volumes = volumes;
    this.snapshots = snapshots;
    this.clock = clock;
    this.log = log;
  }

  SnapshotMade create(CreateSnapshot c) {
    SnapshotHandle handle = new SnapshotHandle(c.name(), c.sourceVolumeId());
    Optional<SnapshotCatalog.Entry> known = snapshots.find(c.name());
    if (known.isPresent()) {
      SnapshotHandle made = known.get().handle();
      if (!made.equals(handle)) {
        throw Failure.alreadyExists(
            "snapshot "
                + c.name()
                + " already exists for volume "
                + made.sourceVolumeId()
                + ", not "
                + c.sourceVolumeId());
      }
      return answer(known.get());
    }
    Optional<VolumeCatalog.Entry> volume = volumes.find(c.sourceVolumeId());
    if (c.secrets().isEmpty()) {
      if (volume.isEmpty()) {
        throw Failure.notFound(
            "volume "
                + c.sourceVolumeId()
                + " was not provisioned by this controller, and without a secret"
                + " (csi.storage.k8s.io/snapshotter-secret-name and -namespace in the"
                + " VolumeSnapshotClass) it cannot be looked up in its file system");
      }
      throw Failure.invalid(
          "a snapshot of volume "
              + c.sourceVolumeId()
              + " needs the snapshotter secret (name, metaurl) to reach its file system: set"
              + " csi.storage.k8s.io/snapshotter-secret-name and -namespace in the"
              + " VolumeSnapshotClass");
    }
    VolumeSettings fs = fileSystem(c.sourceVolumeId(), c.secrets());
    String subPath =
        volume
            .map(VolumeCatalog.Entry::subPath)
            .orElse(c.sourceSubPath() == null ? c.sourceVolumeId() : c.sourceSubPath());
    long bytes;
    try {
      bytes = directories.copy(fs, subPath, handle.path());
    } catch (Failure f) {
      if (f.code() == Failure.Code.NOT_FOUND) {
        throw Failure.notFound(
            "volume "
                + c.sourceVolumeId()
                + " does not exist: no directory "
                + subPath
                + " in file system "
                + fs.fsName());
      }
      throw f;
    }
    SnapshotCatalog.Entry entry = new SnapshotCatalog.Entry(handle, clock.instant(), bytes);
    snapshots.put(entry);
    log.info(
        "snapshot {} of volume {} made at {} in file system {} ({} bytes)",
        c.name(),
        c.sourceVolumeId(),
        handle.path(),
        fs.fsName(),
        bytes);
    return answer(entry);
  }

  /** Idempotent: an id that names no snapshot of ours, or one already gone, is deleted. */
  Done delete(DeleteSnapshot d) {
    Optional<SnapshotHandle> parsed = SnapshotHandle.parse(d.snapshotId());
    if (parsed.isEmpty()) {
      log.info(
          "DeleteSnapshot {}: not a snapshot id of this driver; nothing removed", d.snapshotId());
      return Done.getInstance();
    }
    SnapshotHandle handle = parsed.get();
    boolean known = snapshots.find(handle.name()).map(e -> e.handle().equals(handle)).orElse(false);
    if (d.secrets().isEmpty()) {
      if (!known) {
        return Done.getInstance(); // nothing of ours that we could reach: already deleted
      }
      throw Failure.invalid(
          "DeleteSnapshot for "
              + d.snapshotId()
              + " needs the snapshotter secret (name, metaurl) to reach the file system");
    }
    VolumeSettings fs = fileSystem(handle.sourceVolumeId(), d.secrets());
    directories.delete(fs, handle.path());
    if (known) {
      snapshots.remove(handle.name());
    }
    log.info("snapshot {} deleted from file system {}", d.snapshotId(), fs.fsName());
    return Done.getInstance();
  }

  /**
   * Fills the new volume's directory {@code subPath} from the snapshot; nothing when the directory
   * is there already (a repeated CreateVolume).
   */
  void restore(SnapshotHandle handle, VolumeSettings fs, String volumeName, String subPath) {
    try {
      long bytes = directories.copy(fs, handle.path(), subPath);
      log.info("volume {} restored from snapshot {} ({} bytes)", volumeName, handle.id(), bytes);
    } catch (Failure f) {
      if (f.code() == Failure.Code.NOT_FOUND) {
        throw Failure.notFound(
            "snapshot "
                + handle.id()
                + " does not exist: no directory "
                + handle.path()
                + " in file system "
                + fs.fsName());
      }
      throw f;
    }
  }

  private static VolumeSettings fileSystem(String volumeId, Map<String, String> secrets) {
    return SettingsParser.parse(new VolumeSource(volumeId, secrets, Map.of(), List.of()));
  }

  private static SnapshotMade answer(SnapshotCatalog.Entry entry) {
    return new SnapshotMade(entry.handle(), entry.created(), entry.sizeBytes());
  }
}

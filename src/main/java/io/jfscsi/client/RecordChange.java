package io.jfscsi.client;

import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * One change of a client's record, as its mount actor makes it: the runtime persists just that (an
 * appended line, one annotation) instead of finding it by comparing whole records. The whole record
 * is saved only when a client starts ({@link MountRuntime#save}).
 */
public sealed interface RecordChange {

  ClientKey key();

  /** The client that runs for the record, if any: on Kubernetes its pod holds the record. */
  Optional<RunningClient> running();

  /** This change made to {@code record}. */
  ClientRecord applyTo(ClientRecord record);

  /**
   * A target now references the client (a publish). {@code shared} is the volume it shows when that
   * is not the volume of the record's source (a share mode).
   */
  record TargetAdded(
      ClientKey key,
      Optional<RunningClient> running,
      String target,
      boolean readOnly,
      Optional<TargetVolume> shared)
      implements RecordChange {

    /** A target of the record's own volume. */
    public TargetAdded(
        ClientKey key, Optional<RunningClient> running, String target, boolean readOnly) {
      this(key, running, target, readOnly, Optional.empty());
    }

    @Override
    public ClientRecord applyTo(ClientRecord r) {
      Set<String> targets = new HashSet<>(r.targets());
      Set<String> readOnlyTargets = new HashSet<>(r.readOnlyTargets());
      Map<String, TargetVolume> sharedTargets = new HashMap<>(r.sharedTargets());
      targets.add(target);
      if (readOnly) {
        readOnlyTargets.add(target);
      } else {
        readOnlyTargets.remove(target);
      }
      shared.ifPresentOrElse(v -> sharedTargets.put(target, v), () -> sharedTargets.remove(target));
      return new ClientRecord(
          r.key(), r.source(), targets, readOnlyTargets, sharedTargets, r.deleteAt(), running);
    }
  }

  /** A target no longer references the client (an unpublish, or its pod is gone). */
  record TargetRemoved(ClientKey key, Optional<RunningClient> running, String target)
      implements RecordChange {
    @Override
    public ClientRecord applyTo(ClientRecord r) {
      Set<String> targets = new HashSet<>(r.targets());
      Set<String> readOnlyTargets = new HashSet<>(r.readOnlyTargets());
      Map<String, TargetVolume> sharedTargets = new HashMap<>(r.sharedTargets());
      targets.remove(target);
      readOnlyTargets.remove(target);
      sharedTargets.remove(target);
      return new ClientRecord(
          r.key(), r.source(), targets, readOnlyTargets, sharedTargets, r.deleteAt(), running);
    }
  }

  /** The client's delayed exit was set ({@code deleteAt} present) or cancelled (empty). */
  record DeleteAtChanged(ClientKey key, Optional<RunningClient> running, Optional<Instant> deleteAt)
      implements RecordChange {
    @Override
    public ClientRecord applyTo(ClientRecord r) {
      return new ClientRecord(
          r.key(),
          r.source(),
          r.targets(),
          r.readOnlyTargets(),
          r.sharedTargets(),
          deleteAt,
          running);
    }
  }
}

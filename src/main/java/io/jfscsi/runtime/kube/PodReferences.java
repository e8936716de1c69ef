package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.TargetVolume;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoUnit;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

/**
 * A client record's mutable part as Mount Pod annotations, in the Go driver's format: one reference
 * annotation per target, {@code juicefs-delete-at} (RFC 3339) for a delayed exit, and ours for
 * targets published read-only and, in a share mode, for the volume each target of another volume
 * shows. Pure functions; {@link #patch} gives the merge-patch entries (null removes) that make one
 * change of a record, {@link #diff} those that turn a pod's annotations into a whole record's (a
 * client that starts, on a pod that may carry none of it yet).
 */
public final class PodReferences {
  private PodReferences() {}

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final TypeReference<Map<String, TargetVolume>> TARGET_VOLUMES =
      new TypeReference<>() {};

  /** The targets of other volumes than the pod's source's, with the volume each shows. */
  public static Map<String, TargetVolume> sharedTargets(Map<String, String> annotations) {
    String text = annotations.get(MountPodNames.TARGET_VOLUMES);
    if (text == null || text.isBlank()) {
      return Map.of();
    }
    try {
      Map<String, TargetVolume> parsed = JSON.readValue(text, TARGET_VOLUMES);
      Map<String, TargetVolume> out = new TreeMap<>();
      parsed.forEach(
          (t, v) -> {
            if (t != null && v != null && v.volumeId() != null && v.subPath() != null) {
              out.put(t, v);
            }
          });
      return out;
    } catch (JacksonException e) {
      // Unreadable: the targets fall back to the source's volume, as a Go driver's would.
      return Map.of();
    }
  }

  private static String targetVolumesText(Map<String, TargetVolume> shared) {
    try {
      return JSON.writeValueAsString(new TreeMap<>(shared));
    } catch (JacksonException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The target paths a pod references. */
  public static Set<String> targets(Map<String, String> annotations) {
    Set<String> targets = new LinkedHashSet<>();
    annotations.forEach(
        (k, v) -> {
          if (MountPodNames.isReferenceKey(k) && k.equals(MountPodNames.referenceKey(v))) {
            targets.add(v);
          }
        });
    return targets;
  }

  public static Set<String> readOnly(Map<String, String> annotations) {
    String text = annotations.get(MountPodNames.READ_ONLY);
    Set<String> out = new LinkedHashSet<>();
    if (text != null) {
      for (String line : text.split("\n")) {
        if (!line.isBlank()) {
          out.add(line);
        }
      }
    }
    return out;
  }

  public static Optional<Instant> deleteAt(Map<String, String> annotations) {
    String at = annotations.get(MountPodNames.DELETE_AT);
    if (at == null || at.isBlank()) {
      return Optional.empty();
    }
    try {
      return Optional.of(OffsetDateTime.parse(at).toInstant());
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  /** What the annotations of a pod should say for {@code record} (the keys this class owns). */
  public static Map<String, String> of(ClientRecord record) {
    Map<String, String> out = new HashMap<>();
    for (String t : record.targets()) {
      out.put(MountPodNames.referenceKey(t), t);
    }
    Set<String> ro = new TreeSet<>(record.readOnlyTargets());
    ro.retainAll(record.targets());
    if (!ro.isEmpty()) {
      out.put(MountPodNames.READ_ONLY, String.join("\n", ro));
    }
    record.deleteAt().ifPresent(at -> out.put(MountPodNames.DELETE_AT, rfc3339(at)));
    Map<String, TargetVolume> shared = new TreeMap<>(record.sharedTargets());
    shared.keySet().retainAll(record.targets());
    if (!shared.isEmpty()) {
      out.put(MountPodNames.TARGET_VOLUMES, targetVolumesText(shared));
    }
    return out;
  }

  /**
   * The merge-patch entries that make {@code current} say what {@code record} says: changed or new
   * keys with their value, keys to remove with null. Empty when nothing changes.
   */
  public static Map<String, String> diff(Map<String, String> current, ClientRecord record) {
    Map<String, String> wanted = of(record);
    Map<String, String> patch = new HashMap<>();
    wanted.forEach(
        (k, v) -> {
          if (!v.equals(current.get(k))) {
            patch.put(k, v);
          }
        });
    current.forEach(
        (k, v) -> {
          boolean owned =
              MountPodNames.isReferenceKey(k)
                  || k.equals(MountPodNames.READ_ONLY)
                  || k.equals(MountPodNames.TARGET_VOLUMES)
                  || k.equals(MountPodNames.DELETE_AT);
          if (owned && !wanted.containsKey(k)) {
            patch.put(k, null);
          }
        });
    return patch;
  }

  /**
   * The merge-patch entries that make {@code change} on annotations that are {@code current}: the
   * reference's own annotation and the read-only list for a reference, {@code juicefs-delete-at}
   * for the delayed exit. Empty when the pod says so already.
   */
  public static Map<String, String> patch(Map<String, String> current, RecordChange change) {
    Map<String, String> patch = new HashMap<>();
    switch (change) {
      case RecordChange.TargetAdded added -> {
        String key = MountPodNames.referenceKey(added.target());
        if (!added.target().equals(current.get(key))) {
          patch.put(key, added.target());
        }
        readOnlyAfter(current, added.target(), added.readOnly(), patch);
        sharedAfter(current, added.target(), added.shared(), patch);
      }
      case RecordChange.TargetRemoved removed -> {
        String key = MountPodNames.referenceKey(removed.target());
        if (current.containsKey(key)) {
          patch.put(key, null);
        }
        readOnlyAfter(current, removed.target(), false, patch);
        sharedAfter(current, removed.target(), Optional.empty(), patch);
      }
      case RecordChange.DeleteAtChanged exit -> {
        String at = exit.deleteAt().map(PodReferences::rfc3339).orElse(null);
        if (!Objects.equals(at, current.get(MountPodNames.DELETE_AT))) {
          patch.put(MountPodNames.DELETE_AT, at);
        }
      }
    }
    return patch;
  }

  /** Puts the read-only list in {@code patch} if marking {@code target} so changes it. */
  private static void readOnlyAfter(
      Map<String, String> current, String target, boolean readOnly, Map<String, String> patch) {
    Set<String> ro = new TreeSet<>(readOnly(current));
    ro.retainAll(targets(current));
    if (readOnly) {
      ro.add(target);
    } else {
      ro.remove(target);
    }
    String wanted = ro.isEmpty() ? null : String.join("\n", ro);
    if (!Objects.equals(wanted, current.get(MountPodNames.READ_ONLY))) {
      patch.put(MountPodNames.READ_ONLY, wanted);
    }
  }

  /**
   * Puts the target volumes in {@code patch} if {@code target} showing {@code shared} changes it.
   */
  private static void sharedAfter(
      Map<String, String> current,
      String target,
      Optional<TargetVolume> shared,
      Map<String, String> patch) {
    Map<String, TargetVolume> now = new TreeMap<>(sharedTargets(current));
    now.keySet().retainAll(targets(current));
    shared.ifPresentOrElse(v -> now.put(target, v), () -> now.remove(target));
    String wanted = now.isEmpty() ? null : targetVolumesText(now);
    if (!Objects.equals(wanted, current.get(MountPodNames.TARGET_VOLUMES))) {
      patch.put(MountPodNames.TARGET_VOLUMES, wanted);
    }
  }

  /** RFC 3339 in whole seconds, as Go's time.RFC3339 writes it (and reads it back). */
  private static String rfc3339(Instant at) {
    return at.truncatedTo(ChronoUnit.SECONDS).toString();
  }

  /** Whether applying {@code patch} adds a reference. */
  public static boolean addsReference(Map<String, String> current, Map<String, String> patch) {
    return patch.entrySet().stream()
        .anyMatch(
            e ->
                e.getValue() != null
                    && MountPodNames.isReferenceKey(e.getKey())
                    && !current.containsKey(e.getKey()));
  }

  static Map<String, String> annotations(Pod pod) {
    Map<String, String> a = pod.getMetadata().getAnnotations();
    return a == null ? Map.of() : a;
  }
}

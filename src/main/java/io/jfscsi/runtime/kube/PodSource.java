package io.jfscsi.runtime.kube;

import io.jfscsi.juicefs.VolumeSource;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.ObjectMapper;

/**
 * The non-secret half of a client's {@link VolumeSource}, kept in the annotation {@link
 * MountPodNames#SOURCE} of its pod: the volume context, the mount flags and the name of the Secret
 * that holds the other half. A driver restart joins both to rebuild the settings.
 */
public record PodSource(
    String volumeId, Map<String, String> context, List<String> mountFlags, String secret) {
  private static final ObjectMapper JSON = new ObjectMapper();

  public PodSource {
    context = context == null ? Map.of() : Map.copyOf(context);
    mountFlags = mountFlags == null ? List.of() : List.copyOf(mountFlags);
  }

  /**
   * The part of {@code source} that describes the client: the pod-info keys kubelet adds to each
   * publish ({@code csi.storage.k8s.io/pod.name}, ...) belong to one app pod, not to the client
   * that many pods share, and are left out.
   */
  public static PodSource of(VolumeSource source, String secret) {
    Map<String, String> context = new TreeMap<>(source.context());
    context.keySet().removeIf(k -> k.startsWith(POD_INFO_PREFIX));
    return new PodSource(source.volumeId(), context, source.mountFlags(), secret);
  }

  private static final String POD_INFO_PREFIX = "csi.storage.k8s.io/";

  public VolumeSource withSecrets(Map<String, String> secrets) {
    return new VolumeSource(volumeId, secrets, context, mountFlags);
  }

  public String toJson() {
    try {
      return JSON.writeValueAsString(this);
    } catch (JacksonException e) {
      throw new IllegalStateException(e);
    }
  }

  public static Optional<PodSource> parse(String json) {
    if (json == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(JSON.readValue(json, PodSource.class));
    } catch (JacksonException e) {
      return Optional.empty();
    }
  }
}

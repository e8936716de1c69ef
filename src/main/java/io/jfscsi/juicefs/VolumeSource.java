package io.jfscsi.juicefs;

import java.util.List;
import java.util.Map;

/**
 * The raw inputs a volume's settings are parsed from, exactly as the CO sent them: the secret map,
 * the volume context (PV volumeAttributes / StorageClass parameters) and the mount flags. Kept so
 * that a persisted client can be parsed again after a driver restart. Holds secrets: {@link
 * #toString()} never prints their values.
 */
public record VolumeSource(
    String volumeId,
    Map<String, String> secrets,
    Map<String, String> context,
    List<String> mountFlags) {

  public VolumeSource {
    secrets = Map.copyOf(secrets);
    context = Map.copyOf(context);
    mountFlags = List.copyOf(mountFlags);
  }

  @Override
  public String toString() {
    return "VolumeSource[volumeId="
        + volumeId
        + ", secrets="
        + secrets.keySet()
        + ", context="
        + context
        + ", mountFlags="
        + mountFlags
        + "]";
  }
}

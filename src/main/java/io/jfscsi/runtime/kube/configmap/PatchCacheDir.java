package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.Quantity;

/**
 * One cache directory of a {@code mountPodPatch} entry ({@code cacheDirs}), as the Go driver writes
 * it: {@code type: HostPath} with {@code path}, {@code type: PVC} with {@code name} (a claim in the
 * Mount Pod namespace), or {@code type: EmptyDir} with optional {@code medium} and {@code
 * sizeLimit}.
 */
public record PatchCacheDir(
    String type, String path, String name, String medium, Quantity sizeLimit) {

  /** Why this entry cannot be used, or null. */
  String problem(String where) {
    if (type == null) {
      return where + ": type is missing (HostPath, PVC or EmptyDir)";
    }
    return switch (type) {
      case "HostPath" ->
          path == null || !path.startsWith("/")
              ? where + ": HostPath needs an absolute path"
              : null;
      case "PVC" -> name == null || name.isEmpty() ? where + ": PVC needs a claim name" : null;
      case "EmptyDir" -> null;
      default -> where + ": type '" + type + "' is not HostPath, PVC or EmptyDir";
    };
  }
}

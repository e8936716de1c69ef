package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What a volume's claim and the node that mounts it add to its {@link VolumeSource} before it is
 * parsed, as the JuiceFS CSI Driver (Go) honours them:
 *
 * <ul>
 *   <li>the claim's {@code juicefs/mount-cpu-limit}, {@code -cpu-request}, {@code -memory-limit}
 *       and {@code -memory-request} annotations, over the same volume-context keys;
 *   <li>{@code ${.pvc.*}} and {@code ${.node.*}} templates left in the mount options (a static
 *       PV's, or a StorageClass's whose node was not known when the volume was provisioned).
 * </ul>
 *
 * Folded into the source, they are parsed, checked and hashed exactly as the volume context is: a
 * claim annotation that changes the Mount Pod gives a client of its own, and a driver restart
 * parses the same source again.
 */
public final class ClaimSettings {
  private ClaimSettings() {}

  /** The claim annotations that override the volume context of the same name. */
  public static final List<String> ANNOTATIONS =
      List.of(
          ContextSettings.CPU_LIMIT,
          ContextSettings.CPU_REQUEST,
          ContextSettings.MEMORY_LIMIT,
          ContextSettings.MEMORY_REQUEST);

  private static final String MOUNT_OPTIONS = "mountOptions";

  /** Whether the node plugin must read the Node for this source's templates. */
  public static boolean needsNode(VolumeSource source) {
    return texts(source).stream().anyMatch(t -> ObjectTemplates.mentions(t, "node"));
  }

  /**
   * {@code source} with the claim's annotations and both objects' templates; {@code claimName}
   * ("namespace/name") names the claim in a refusal. A template of an object there is not (a volume
   * without a claim) is empty, as a missing label is.
   */
  public static VolumeSource apply(
      VolumeSource source,
      Optional<ObjectTemplates.Subject> pvc,
      String claimName,
      Optional<ObjectTemplates.Subject> node) {
    Map<String, String> context = new HashMap<>(source.context());
    pvc.ifPresent(
        claim -> {
          for (String key : ANNOTATIONS) {
            String value = claim.annotations().get(key);
            if (value == null || value.isBlank()) {
              continue;
            }
            check(key, value.strip(), claimName);
            context.put(key, value.strip());
          }
        });
    String options = context.get(MOUNT_OPTIONS);
    if (options != null) {
      context.put(MOUNT_OPTIONS, ObjectTemplates.fill(options, pvc, node, false));
    }
    List<String> flags =
        source.mountFlags().stream().map(f -> ObjectTemplates.fill(f, pvc, node, false)).toList();
    return new VolumeSource(source.volumeId(), source.secrets(), context, flags);
  }

  private static List<String> texts(VolumeSource source) {
    String options = source.context().get(MOUNT_OPTIONS);
    return options == null
        ? source.mountFlags()
        : java.util.stream.Stream.concat(
                source.mountFlags().stream(), java.util.stream.Stream.of(options))
            .toList();
  }

  private static void check(String key, String value, String claimName) {
    if (Quantity.value(value).isEmpty()) {
      throw Failure.invalid(
          "annotation '"
              + key
              + "' of PVC "
              + claimName
              + ": value "
              + Quoted.of(value)
              + " is not a Kubernetes quantity; write e.g. 500m or 2 for CPU, 512Mi or 1Gi for"
              + " memory");
    }
    try {
      ContextSettings.parse(Map.of(key, value));
    } catch (Failure e) {
      throw Failure.invalid("annotation '" + key + "' of PVC " + claimName + ": " + e.getMessage());
    }
  }
}

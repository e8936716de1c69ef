package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Pod;
import java.util.Map;

/**
 * Which shape of client a pod gets, as the Go driver chooses it: its plain route gives the Mount
 * Pod's shape ({@link #HOST}); its serverless route ({@value SidecarWebhook#SERVERLESS_PATH}) gives
 * Volcengine VCI's shape to a pod annotated {@value #VCI_KEY}{@code =enforce}, Huawei CCI's to a
 * pod labelled {@value #CCI_KEY}{@code =enforce}, and the generic serverless shape to the others.
 * What each shape changes is in {@link ServerlessShape}.
 */
public enum SidecarVariant {
  /** The Mount Pod's shape: privileged, the mount root and the caches on hostPaths. */
  HOST,
  /** Privileged, the mount root on a hostPath, and no other hostPath (no host cache dirs). */
  SERVERLESS,
  /** No hostPath, not privileged: the mount reaches the app through an emptyDir. */
  VCI,
  /** No hostPath, SYS_ADMIN and MKNOD: the mount reaches the app through CCI's own CSI volume. */
  CCI;

  /** The Go driver's pod annotation for a pod that bursts to Volcengine VCI. */
  public static final String VCI_KEY = "vke.volcengine.com/burst-to-vci";

  /** The Go driver's pod label for a pod that bursts to Huawei CCI. */
  public static final String CCI_KEY = "virtual-kubelet.io/burst-to-cci";

  static final String ENFORCE = "enforce";

  /** The variant for {@code pod} on the plain ({@code serverless} false) or serverless route. */
  public static SidecarVariant of(Pod pod, boolean serverless) {
    if (!serverless) {
      return HOST;
    }
    if (ENFORCE.equals(orEmpty(pod.getMetadata().getAnnotations()).get(VCI_KEY))) {
      return VCI;
    }
    if (ENFORCE.equals(orEmpty(pod.getMetadata().getLabels()).get(CCI_KEY))) {
      return CCI;
    }
    return SERVERLESS;
  }

  /** Whether the client shares no host directory, so it mounts the sub-directory itself. */
  boolean hostless() {
    return this == VCI || this == CCI;
  }

  private static Map<String, String> orEmpty(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }
}

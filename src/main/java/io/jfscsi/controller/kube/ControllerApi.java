package io.jfscsi.controller.kube;

import com.typesafe.config.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.KubeClients;

/**
 * The controller's API client from {@code jfs-csi.kubernetes.kubeconfig} (the key the kubernetes
 * runtime reads too): the file when one is set, else fabric8's own discovery (in-cluster service
 * account, then $KUBECONFIG / ~/.kube/config).
 */
public final class ControllerApi {
  private ControllerApi() {}

  public static KubernetesClient create(Config c) {
    return KubeClients.connect(c.getString("kubernetes.kubeconfig"));
  }

  /**
   * Where the Lease lives: {@code jfs-csi.kubernetes.namespace}, the driver's namespace (also that
   * of Mount Pods); when set empty, the client's (pod's or context's), else default.
   */
  public static String namespace(Config c, KubernetesClient client) {
    String configured = c.getString("kubernetes.namespace");
    if (!configured.isEmpty()) {
      return configured;
    }
    String ns = client.getNamespace();
    return ns == null || ns.isEmpty() ? "default" : ns;
  }
}

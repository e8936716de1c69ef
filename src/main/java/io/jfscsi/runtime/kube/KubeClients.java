package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where every API client of the driver and its tools gets its configuration: a kubeconfig file, or,
 * when none is named, fabric8's usual lookup (the in-cluster service account, then KUBECONFIG or
 * ~/.kube/config, as kubectl finds them).
 */
public final class KubeClients {
  private KubeClients() {}

  /** The configuration from {@code kubeconfig}, or fabric8's lookup when it is empty. */
  public static Config config(String kubeconfig) {
    if (kubeconfig.isEmpty()) {
      return Config.autoConfigure(null);
    }
    try {
      return Config.fromKubeconfig(null, Files.readString(Path.of(kubeconfig)), kubeconfig);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(
          "cannot read the kubeconfig " + kubeconfig + ": " + e.getMessage(), e);
    }
  }

  /** A client with {@link #config}. */
  public static KubernetesClient connect(String kubeconfig) {
    return new KubernetesClientBuilder().withConfig(config(kubeconfig)).build();
  }
}

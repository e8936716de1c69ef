package io.jfscsi.cli;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The API client of the command-line tools: a kubeconfig file, or fabric8's usual lookup. */
public final class KubeClients {
  private KubeClients() {}

  /**
   * A client from {@code kubeconfig}, or when it is null from KUBECONFIG, ~/.kube/config or the
   * in-cluster service account, as kubectl finds them.
   */
  public static KubernetesClient connect(Path kubeconfig) throws IOException {
    if (kubeconfig == null) {
      return new KubernetesClientBuilder().build();
    }
    Config config = Config.fromKubeconfig(null, Files.readString(kubeconfig), null);
    return new KubernetesClientBuilder().withConfig(config).build();
  }
}

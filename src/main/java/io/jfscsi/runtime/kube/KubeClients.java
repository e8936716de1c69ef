package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * Where every API client of the driver and its tools gets its configuration: a kubeconfig file, or,
 * when none is named, fabric8's usual lookup (the in-cluster service account, then KUBECONFIG or
 * ~/.kube/config, as kubectl finds them).
 */
public final class KubeClients {
  private static final Logger log = LoggerFactory.getLogger(KubeClients.class);

  private KubeClients() {}

  /** The configuration from {@code kubeconfig}, or fabric8's lookup when it is empty. */
  public static Config config(String kubeconfig) {
    return config(kubeconfig, null);
  }

  /**
   * As {@link #config(String)}, with the kubeconfig's context {@code context} instead of its
   * current one when it is not null.
   */
  public static Config config(String kubeconfig, String context) {
    if (kubeconfig.isEmpty()) {
      return Config.autoConfigure(context);
    }
    try {
      return Config.fromKubeconfig(context, Files.readString(Path.of(kubeconfig)), kubeconfig);
    } catch (IOException | RuntimeException e) {
      throw new IllegalArgumentException(
          "cannot read the kubeconfig " + kubeconfig + ": " + e.getMessage(), e);
    }
  }

  /**
   * Makes {@code informer} list and watch again, with fabric8's backoff, after any error, before
   * its first list as after it (fabric8 stops an informer whose first list fails, and then its
   * cache never fills). Call before {@code start}.
   */
  public static void retryForever(SharedIndexInformer<?> informer, String what) {
    informer.exceptionHandler(
        (started, error) -> {
          log.warn("listing or watching {} failed, trying again: {}", what, error.toString());
          return true;
        });
  }

  /** A client with {@link #config}. */
  public static KubernetesClient connect(String kubeconfig) {
    return new KubernetesClientBuilder().withConfig(config(kubeconfig)).build();
  }

  /** The API options of the tools that talk to a cluster, as kubectl names them. */
  public static final class Options {
    @Option(
        names = "--kubeconfig",
        description =
            "kubeconfig file (default: KUBECONFIG, ~/.kube/config, or the in-cluster service"
                + " account)")
    Path kubeconfig;

    @Option(names = "--context", description = "the kubeconfig context to use (default: current)")
    String context;

    /** A client for these options. */
    public KubernetesClient connect() {
      return new KubernetesClientBuilder()
          .withConfig(config(kubeconfig == null ? "" : kubeconfig.toString(), context))
          .build();
    }
  }
}

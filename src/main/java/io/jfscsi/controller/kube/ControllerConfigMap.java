package io.jfscsi.controller.kube;

import com.typesafe.config.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Supplier;

/**
 * The Go driver's global ConfigMap as the controller reads it: its quota switches decide whether
 * provisioning sets a volume's quota. Watched when the controller runs in a cluster (the built-in
 * provisioner, or a pod with a service account); the Go driver's defaults otherwise.
 */
public final class ControllerConfigMap implements AutoCloseable, Supplier<QuotaSwitches> {

  private final Optional<KubernetesClient> client;
  private final Optional<GlobalConfigWatch> watch;
  private final Optional<ExecutorService> executor;

  private ControllerConfigMap(
      Optional<KubernetesClient> client,
      Optional<GlobalConfigWatch> watch,
      Optional<ExecutorService> executor) {
    this.client = client;
    this.watch = watch;
    this.executor = executor;
  }

  /** No cluster: the defaults. */
  public static final ControllerConfigMap DEFAULTS =
      new ControllerConfigMap(Optional.empty(), Optional.empty(), Optional.empty());

  /** {@code c} is the {@code jfs-csi} block. */
  public static ControllerConfigMap start(Config c, Map<String, String> env) {
    ProvisionerSettings settings = ProvisionerSettings.from(c, env);
    if (!settings.builtin() && !ProvisionerSettings.kubernetesConfigured(c, env)) {
      return DEFAULTS;
    }
    KubernetesClient client = ControllerApi.create(c);
    ExecutorService executor =
        Executors.newThreadPerTaskExecutor(
            Thread.ofVirtual().name("jfs-config-event-", 0).factory());
    GlobalConfigWatch watch =
        new GlobalConfigWatch(
            client,
            ControllerApi.namespace(c, client),
            c.getString("kubernetes.config-map"),
            "controller",
            executor);
    return new ControllerConfigMap(Optional.of(client), Optional.of(watch), Optional.of(executor));
  }

  /** The watch of the ConfigMap, to share with the webhook; empty without a cluster. */
  public Optional<GlobalConfigWatch> watch() {
    return watch;
  }

  @Override
  public QuotaSwitches get() {
    return watch.map(GlobalConfigWatch::quotaSwitches).orElse(QuotaSwitches.DEFAULTS);
  }

  @Override
  public void close() {
    watch.ifPresent(GlobalConfigWatch::close);
    executor.ifPresent(ExecutorService::shutdown);
    client.ifPresent(KubernetesClient::close);
  }
}

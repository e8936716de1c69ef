package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.runtime.kube.KubeClients;
import io.jfscsi.runtime.kube.KubeEvents;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Go driver's global ConfigMap ({@code juicefs-csi-driver-config}, key {@code config.yaml}) as
 * this node sees it: read when the driver starts and at every change, through an informer on that
 * one object (a watch, not a poll). A version that does not parse is refused: the log names its
 * line and column, a Warning Event on the ConfigMap says the same, and the last good version stays
 * in force ({@link #current}); {@link #status} tells the metrics and /ready. A deleted ConfigMap
 * means the Go driver's defaults.
 */
public final class GlobalConfigWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(GlobalConfigWatch.class);

  /** The ConfigMap's key that holds the configuration, as in the Go driver. */
  public static final String KEY = "config.yaml";

  static final String REFUSED = "ConfigRefused";
  static final String COMPONENT = "jfs-csi-node";

  /**
   * What the last change did.
   *
   * @param lastLoadSucceeded false while the newest version is refused
   * @param accepted versions taken into force since the start
   * @param refused versions refused since the start
   * @param refusal why the newest version is refused (with line and column), while it is
   * @param inForce which version is in force: "defaults", or "resourceVersion N"
   */
  public record Status(
      boolean lastLoadSucceeded,
      long accepted,
      long refused,
      Optional<String> refusal,
      String inForce) {}

  private final KubernetesClient client;
  private final String namespace;
  private final String name;
  private final String node;
  private final Executor executor;
  private final Clock clock;
  private final SharedIndexInformer<ConfigMap> informer;
  private final AtomicReference<GlobalConfig> current =
      new AtomicReference<>(GlobalConfig.DEFAULTS);
  private final AtomicReference<String> inForce = new AtomicReference<>("defaults");
  private final AtomicReference<Optional<String>> refusal = new AtomicReference<>(Optional.empty());
  private final AtomicLong accepted = new AtomicLong();
  private final AtomicLong refused = new AtomicLong();

  public GlobalConfigWatch(
      KubernetesClient client, String namespace, String name, String node, Executor executor) {
    this.client = client;
    this.namespace = namespace;
    this.name = name;
    this.node = node;
    this.executor = executor;
    this.clock = Clock.systemUTC();
    this.informer = client.configMaps().inNamespace(namespace).withName(name).runnableInformer(0);
    informer.addEventHandler(
        new ResourceEventHandler<>() {
          @Override
          public void onAdd(ConfigMap cm) {
            load(cm);
          }

          @Override
          public void onUpdate(ConfigMap old, ConfigMap cm) {
            if (!sameVersion(old, cm)) {
              load(cm);
            }
          }

          @Override
          public void onDelete(ConfigMap cm, boolean unknownFinalState) {
            log.info(
                "ConfigMap {}/{} was deleted: the Go driver's defaults apply to new Mount Pods",
                namespace,
                name);
            set(GlobalConfig.DEFAULTS, "defaults");
          }
        });
    KubeClients.retryForever(informer, "the ConfigMap " + namespace + "/" + name);
    informer.start();
  }

  private static boolean sameVersion(ConfigMap a, ConfigMap b) {
    return a.getMetadata().getResourceVersion().equals(b.getMetadata().getResourceVersion());
  }

  /** Whether the first list is done: until then {@link #current} may not be the cluster's. */
  public boolean synced() {
    return informer.hasSynced();
  }

  /** The configuration in force: the last version that parsed (or the defaults). */
  public GlobalConfig current() {
    return current.get();
  }

  /** {@code enableSetQuota} and {@code enableControllerSetQuota} of the version in force. */
  public QuotaSwitches quotaSwitches() {
    Switches s = current().switches();
    return new QuotaSwitches(s.enableSetQuota(), s.enableControllerSetQuota());
  }

  public Status status() {
    return new Status(
        refusal.get().isEmpty(), accepted.get(), refused.get(), refusal.get(), inForce.get());
  }

  /** What /ready should add while the newest version is refused. */
  public List<String> warnings() {
    return refusal
        .get()
        .map(
            why ->
                List.of(
                    "the ConfigMap "
                        + namespace
                        + "/"
                        + name
                        + " is refused ("
                        + why
                        + "); "
                        + inForce.get()
                        + " stays in force"))
        .orElse(List.of());
  }

  void load(ConfigMap cm) {
    String version = "resourceVersion " + cm.getMetadata().getResourceVersion();
    Map<String, String> data = cm.getData() == null ? Map.of() : cm.getData();
    try {
      GlobalConfigParser.Parsed parsed = GlobalConfigParser.parse(data.get(KEY));
      if (!parsed.ignoredKeys().isEmpty()) {
        log.warn(
            "ConfigMap {}/{} ({}): keys this driver does not use, ignored: {}",
            namespace,
            name,
            version,
            String.join(", ", parsed.ignoredKeys()));
      }
      set(parsed.config(), version);
      log.info(
          "ConfigMap {}/{} ({}) in force for new Mount Pods: {} mountPodPatch entries, {}",
          namespace,
          name,
          version,
          parsed.config().mountPodPatch().size(),
          parsed.config().switches());
    } catch (GlobalConfigParser.Refused r) {
      refused.incrementAndGet();
      String why = KEY + " " + r.describe();
      refusal.set(Optional.of(why));
      log.error(
          "ConfigMap {}/{} ({}) refused: {}; {} stays in force",
          namespace,
          name,
          version,
          why,
          inForce.get());
      executor.execute(() -> postRefusal(cm, why));
    }
  }

  private void set(GlobalConfig config, String version) {
    current.set(config);
    inForce.set(version);
    refusal.set(Optional.empty());
    accepted.incrementAndGet();
  }

  private void postRefusal(ConfigMap cm, String why) {
    String message = "node " + node + " refused " + why + "; " + inForce.get() + " stays in force";
    try {
      client
          .v1()
          .events()
          .inNamespace(namespace)
          .resource(KubeEvents.of(cm, REFUSED, "Warning", message, COMPONENT, node, clock))
          .create();
    } catch (KubernetesClientException e) {
      log.warn(
          "cannot post the Event of the refused ConfigMap {}/{}: {}",
          namespace,
          name,
          e.toString());
    }
  }

  @Override
  public void close() {
    informer.close();
  }
}

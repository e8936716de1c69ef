package io.jfscsi.webhook;

import com.typesafe.config.Config;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhook;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.controller.kube.ControllerApi;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sidecar webhooks in the controller ({@code jfs-csi.webhook}, the Go driver's {@code
 * --webhook}, {@code --webhook-port}, {@code --webhook-cert-dir}): its certificate, its server with
 * the plain and the serverless routes, the global ConfigMap (watched, for {@code
 * enableNativeSidecar} and the {@code mountPodPatch} of the sidecars), and when it made its own CA,
 * that CA in the caBundle of the MutatingWebhookConfiguration; and the {@link SidecarExitWatcher}
 * that lets the pods of Jobs complete. The ConfigMap's watch is the controller's own when it has
 * one (its runtime's, or the one of its quota switches), so that one informer serves both; the
 * service starts its own only when the controller has none.
 */
public final class SidecarWebhookService implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SidecarWebhookService.class);

  /** How often the pods of Jobs are looked at again, for a client whose stop failed. */
  private static final Duration EXIT_RESYNC = Duration.ofSeconds(30);

  private final WebhookServer server;
  private final SidecarExitWatcher exits;
  private final KubernetesClient client;
  private final Optional<GlobalConfigWatch> ownWatch;

  /** The Events of its own watch; none with the controller's watch. */
  private final Optional<ExecutorService> events;

  private SidecarWebhookService(
      WebhookServer server,
      SidecarExitWatcher exits,
      KubernetesClient client,
      Optional<GlobalConfigWatch> ownWatch,
      Optional<ExecutorService> events) {
    this.server = server;
    this.exits = exits;
    this.client = client;
    this.ownWatch = ownWatch;
    this.events = events;
  }

  /** As below, with a watch of the ConfigMap of its own. */
  public static Optional<SidecarWebhookService> startIfConfigured(Config c) throws IOException {
    return startIfConfigured(c, Optional.empty());
  }

  /**
   * Started when {@code jfs-csi.webhook.enabled}; a certificate that cannot be read fails it.
   *
   * @param sharedWatch the controller's watch of the global ConfigMap, which its owner closes;
   *     empty: the service watches the ConfigMap itself, and closes that watch with itself
   */
  public static Optional<SidecarWebhookService> startIfConfigured(
      Config c, Optional<GlobalConfigWatch> sharedWatch) throws IOException {
    Config w = c.getConfig("webhook");
    if (!w.getBoolean("enabled")) {
      return Optional.empty();
    }
    KubernetesClient client = ControllerApi.create(c);
    Optional<ExecutorService> events =
        sharedWatch.isPresent()
            ? Optional.empty()
            : Optional.of(
                Executors.newThreadPerTaskExecutor(
                    Thread.ofVirtual().name("jfs-webhook-config-event-", 0).factory()));
    Optional<GlobalConfigWatch> ownWatch = Optional.empty();
    try {
      String namespace = ControllerApi.namespace(c, client);
      String nodeId = c.getString("node-id");
      KubeRuntimeConfig runtime = KubeRuntimeConfig.from(c, nodeId.isBlank() ? "sidecar" : nodeId);
      String certDir = w.getString("cert-dir");
      WebhookTls tls =
          certDir.isEmpty()
              ? shared(client, namespace, w.getString("service"))
              : WebhookTls.fromDirectory(Path.of(certDir));
      if (sharedWatch.isEmpty()) {
        ownWatch =
            Optional.of(
                new GlobalConfigWatch(
                    client,
                    namespace,
                    c.getString("kubernetes.config-map"),
                    "webhook",
                    events.orElseThrow()));
      }
      GlobalConfigWatch watched = sharedWatch.isPresent() ? sharedWatch.get() : ownWatch.get();
      awaitSynced(watched, Duration.ofSeconds(10));
      NativeSidecars nativeSidecars =
          new NativeSidecars(
              () -> watched.current().switches().enableNativeSidecar(),
              client::getKubernetesVersion);
      String driver = c.getString("driver-name");
      SidecarWebhook plain =
          new SidecarWebhook(client, driver, runtime, false, nativeSidecars, Optional.of(watched));
      SidecarWebhook serverless =
          new SidecarWebhook(client, driver, runtime, true, nativeSidecars, Optional.of(watched));
      WebhookServer server =
          WebhookServer.start(
              new InetSocketAddress(w.getInt("port")),
              tls,
              Map.of(
                  SidecarWebhook.PATH, plain::handle,
                  SidecarWebhook.SERVERLESS_PATH, serverless::handle));
      if (certDir.isEmpty()) {
        patchCaBundle(client, w.getString("configuration"), tls.caBundlePem().orElseThrow());
      }
      // The clients of a Job's pod exit when its app containers are done, so that it completes.
      SidecarExitWatcher exits;
      try {
        exits = SidecarExitWatcher.start(client, EXIT_RESYNC);
      } catch (RuntimeException e) {
        server.close();
        throw e;
      }
      return Optional.of(new SidecarWebhookService(server, exits, client, ownWatch, events));
    } catch (IOException | RuntimeException e) {
      ownWatch.ifPresent(GlobalConfigWatch::close);
      events.ifPresent(ExecutorService::shutdown);
      client.close();
      throw e;
    }
  }

  /**
   * Gives the watch a moment to list the ConfigMap before pods are admitted: until it has, the
   * webhook refuses pods with claims (503) rather than inject clients without their patch.
   */
  private static void awaitSynced(GlobalConfigWatch watch, Duration limit) {
    long deadline = System.nanoTime() + limit.toNanos();
    while (!watch.synced() && System.nanoTime() < deadline) {
      try {
        Thread.sleep(100);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      }
    }
    if (!watch.synced()) {
      log.warn(
          "sidecar webhook: the global ConfigMap is not read after {}s; pods with JuiceFS claims"
              + " are refused until it is",
          limit.toSeconds());
    }
  }

  /**
   * The certificate made at start, kept in the Secret {@code <service>-certs} of the driver's
   * namespace so that every controller replica serves the same one and the caBundle fits them all:
   * the first replica makes and creates it, the others (and later starts) read it.
   */
  static WebhookTls shared(KubernetesClient client, String namespace, String service)
      throws IOException {
    String name = service + "-certs";
    var secrets = client.secrets().inNamespace(namespace);
    Secret stored = secrets.withName(name).get();
    if (stored == null) {
      WebhookTls.Pems made =
          WebhookTls.selfMadePems(
              WebhookTls.serviceNames(service, namespace), List.of("127.0.0.1"));
      Secret secret =
          new SecretBuilder()
              .withNewMetadata()
              .withName(name)
              .withNamespace(namespace)
              .addToLabels("app.kubernetes.io/name", "jfs-csi")
              .endMetadata()
              .withType("kubernetes.io/tls")
              .addToStringData("tls.crt", made.certificate())
              .addToStringData("tls.key", made.key())
              .addToStringData("ca.crt", made.ca().orElseThrow())
              .build();
      try {
        secrets.resource(secret).create();
        log.info(
            "sidecar webhook: made a CA and certificate, kept in Secret {}/{}", namespace, name);
        return WebhookTls.fromPem(made, "Secret " + namespace + "/" + name);
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409) {
          throw e;
        }
        stored = secrets.withName(name).get(); // another replica made it first
      }
    }
    Map<String, String> data = new HashMap<>();
    if (stored.getData() != null) {
      stored
          .getData()
          .forEach(
              (k, v) ->
                  data.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    }
    if (!data.containsKey("tls.crt")
        || !data.containsKey("tls.key")
        || !data.containsKey("ca.crt")) {
      throw new IOException(
          "Secret "
              + namespace
              + "/"
              + name
              + " must hold tls.crt, tls.key and ca.crt; delete it"
              + " and a new one is made at the next start");
    }
    return WebhookTls.fromPem(
        new WebhookTls.Pems(
            data.get("tls.crt"), data.get("tls.key"), Optional.of(data.get("ca.crt"))),
        "Secret " + namespace + "/" + name);
  }

  /**
   * Puts {@code caPem} in every webhook of the configuration {@code name}, so that the API server
   * trusts the CA this process made. A configuration that is missing or cannot be written is
   * logged, not fatal: the operator may manage the caBundle (then give --webhook-cert-dir).
   */
  public static boolean patchCaBundle(KubernetesClient client, String name, String caPem) {
    String bundle = Base64.getEncoder().encodeToString(caPem.getBytes(StandardCharsets.UTF_8));
    try {
      MutatingWebhookConfiguration patched =
          client
              .admissionRegistration()
              .v1()
              .mutatingWebhookConfigurations()
              .withName(name)
              .edit(
                  cfg -> {
                    for (MutatingWebhook hook : cfg.getWebhooks()) {
                      hook.getClientConfig().setCaBundle(bundle);
                    }
                    return cfg;
                  });
      log.info(
          "sidecar webhook: this process's CA is now the caBundle of {} ({} webhooks)",
          name,
          patched.getWebhooks().size());
      return true;
    } catch (KubernetesClientException e) {
      log.error(
          "sidecar webhook: cannot put this process's CA in MutatingWebhookConfiguration {}: {};"
              + " the API server will not trust the webhook until it is there (or give"
              + " --webhook-cert-dir with a certificate it trusts)",
          name,
          e.getMessage());
      return false;
    }
  }

  public int port() {
    return server.port();
  }

  @Override
  public void close() {
    server.close();
    ownWatch.ifPresent(GlobalConfigWatch::close);
    events.ifPresent(ExecutorService::shutdown);
    exits.close();
    client.close();
  }
}

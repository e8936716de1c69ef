package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.fusefd.FuseFdKeeping;
import io.jfscsi.host.FuseConnections;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.SharedMountRoot;
import io.jfscsi.juicefs.ClaimSettings;
import io.jfscsi.juicefs.ObjectTemplates;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.runtime.kube.configmap.ClaimLookup;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link MountRuntime} of a Kubernetes node: the client of a {@link ClientKey} runs in a Mount
 * Pod on this node ({@link MountPodBuilder}, started and stopped by {@link MountPodLifecycle}), its
 * secret values in a Secret of its own ({@link MountPodSecrets}), and its record is the pod itself:
 * references, delayed exit and the volume's non-secret settings are annotations ({@link
 * MountPodRecords}), so a restarted driver reads everything back from the API server. Pods made by
 * the Go driver are adopted the same way ({@link GoMountPods}). A stopped client's cache is removed
 * by a Job ({@link VolumeCaches}).
 *
 * <p>The mount root must be a shared mount for the Mount Pods' Bidirectional propagation: the
 * runtime makes it one at start ({@link SharedMountRoot}) and is not ready while it is not.
 *
 * <p>Reads come from one informer of this node's Mount Pods ({@link MountPodWatch}), so a publish
 * that shares a running client costs one PATCH and no read. Writes of annotations carry the
 * resourceVersion they were computed from and are retried on a conflict.
 */
public final class KubeMountRuntime implements MountRuntime, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubeMountRuntime.class);
  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final RequestCounter requests;
  private final Executor executor;
  private final MountPodWatch pods;
  private final NodeAppPods apps;
  private final VolumeCaches caches;
  private final MountPodLifecycle lifecycle;
  private final MountPodUpgrade upgrades;

  /** Set once by the driver before any client starts; none until then (and in tests). */
  private final AtomicReference<FuseFdKeeping> keeping = new AtomicReference<>(FuseFdKeeping.NONE);

  private final MountPodRecords records;
  private final GlobalConfigWatch globalConfig;
  private final ClaimLookup claims;
  private final StuckMountPods stuck;
  private static final String EPHEMERAL = "csi.storage.k8s.io/ephemeral";
  private final boolean ownsClient;

  /** Empty once the mount root is known to be shared; else how to check (and make) it so. */
  private final AtomicReference<Supplier<Optional<String>>> mountRootCheck;

  public KubeMountRuntime(
      KubeRuntimeConfig config,
      KubernetesClient client,
      Mounter mounter,
      RequestCounter requests,
      Duration podGoneGrace,
      boolean ownsClient) {
    this(config, client, mounter, requests, podGoneGrace, ownsClient, Optional::empty);
  }

  private KubeMountRuntime(
      KubeRuntimeConfig config,
      KubernetesClient client,
      Mounter mounter,
      RequestCounter requests,
      Duration podGoneGrace,
      boolean ownsClient,
      Supplier<Optional<String>> mountRootCheck) {
    this.mountRootCheck = new AtomicReference<>(mountRootCheck);
    this.config = config;
    this.client = client;
    this.requests = requests;
    this.ownsClient = ownsClient;
    this.executor =
        Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("jfs-mount-pod-", 0).factory());
    this.pods = new MountPodWatch(client, config.namespace(), config.nodeName());
    this.apps = new NodeAppPods(client, config.nodeName(), podGoneGrace, Clock.systemUTC());
    MountPodSecrets secrets = new MountPodSecrets(client, config.namespace(), pods);
    this.caches = new VolumeCaches(config, client, executor, pods);
    MountPodRemoval removal = new MountPodRemoval(config, client, mounter, pods);
    this.globalConfig =
        new GlobalConfigWatch(
            client, config.namespace(), config.configMap(), config.nodeName(), executor);
    this.claims = new ClaimLookup(client);
    ConfigMapPatches patches =
        new ConfigMapPatches(globalConfig::current, claims, config.nodeName());
    this.lifecycle =
        new MountPodLifecycle(
            config,
            client,
            mounter,
            pods,
            secrets,
            caches,
            removal,
            patches,
            executor,
            keeping::get);
    this.upgrades = new MountPodUpgrade(config, pods, lifecycle.creation(), removal, keeping::get);
    this.records = new MountPodRecords(config, client, executor, pods, secrets, caches, removal);
    this.stuck =
        new StuckMountPods(
            pods,
            () -> globalConfig.current().switches(),
            new FuseConnections(FuseConnections.DEFAULT_DIR),
            mounter::mounts,
            client,
            config.nodeName(),
            executor,
            Clock.systemUTC());
  }

  /**
   * A runtime with a client of its own, built from {@code config.kubeconfig()} or fabric8's auto
   * configuration.
   */
  public static KubeMountRuntime connect(
      KubeRuntimeConfig config, Mounter mounter, Duration podGoneGrace) {
    RequestCounter counter = new RequestCounter();
    KubernetesClient client =
        new KubernetesClientBuilder()
            .withConfig(KubeClients.config(config.kubeconfig()))
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("jfs-csi-count", counter))
            .build();
    KubeMountRuntime runtime =
        new KubeMountRuntime(
            config,
            client,
            mounter,
            counter,
            podGoneGrace,
            true,
            () -> SharedMountRoot.ensure(config.mountRoot()));
    runtime.mountRootShared();
    return runtime;
  }

  /** Checks the mount root until it is shared once (it stays so); false, and why, until then. */
  private boolean mountRootShared() {
    Supplier<Optional<String>> check = mountRootCheck.get();
    if (check == null) {
      return true;
    }
    Optional<String> problem = check.get();
    if (problem.isPresent()) {
      log.error("kubernetes runtime not ready: {}", problem.get());
      return false;
    }
    mountRootCheck.set(null);
    return true;
  }

  /** A Kubernetes Event on the app pod of each container recovery ({@link PodRecoveryEvents}). */
  public PodRecoveryEvents recoveryEvents() {
    return new PodRecoveryEvents(client, config.nodeName(), apps::pod, executor, Clock.systemUTC());
  }

  @Override
  public Optional<Long> volumeCapacity(String volumeId) {
    try {
      return claims.capacityOf(volumeId);
    } catch (KubernetesClientException e) {
      log.warn("cannot read the capacity of volume {}: {}", volumeId, e.toString());
      return Optional.empty();
    }
  }

  @Override
  public QuotaSwitches quotaSwitches() {
    return globalConfig.quotaSwitches();
  }

  /** The Go driver's global ConfigMap as this node has it. */
  public GlobalConfigWatch globalConfig() {
    return globalConfig;
  }

  /** See {@link ClaimLookup#storageClassOf}; an inline volume has no PV. */
  @Override
  public Optional<String> storageClassOf(VolumeSource source) {
    if ("true".equals(source.context().get(EPHEMERAL))) {
      return Optional.empty();
    }
    try {
      return claims.storageClassOf(source.volumeId());
    } catch (KubernetesClientException e) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "cannot read the PV and StorageClass of volume "
              + source.volumeId()
              + " (STORAGE_CLASS_SHARE_MOUNT): "
              + e.getMessage(),
          e);
    }
  }

  @Override
  public VolumeSource withClaim(VolumeSource source) {
    Optional<PersistentVolumeClaim> claim;
    Optional<Node> node;
    try {
      // An inline ephemeral volume has no PV to look for (kubelet marks its context).
      claim =
          "true".equals(source.context().get(EPHEMERAL))
              ? Optional.empty()
              : claims.claimOf(source.volumeId());
      node = ClaimSettings.needsNode(source) ? claims.node(config.nodeName()) : Optional.empty();
    } catch (KubernetesClientException e) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "cannot read the PV and claim of volume "
              + source.volumeId()
              + " or node "
              + config.nodeName()
              + ": "
              + e.getMessage(),
          e);
    }
    return ClaimSettings.apply(
        source,
        claim.map(
            c ->
                ObjectTemplates.Subject.claim(
                    c.getMetadata().getName(),
                    c.getMetadata().getNamespace(),
                    c.getMetadata().getLabels(),
                    c.getMetadata().getAnnotations())),
        claim.map(c -> c.getMetadata().getNamespace() + "/" + c.getMetadata().getName()).orElse(""),
        node.map(
            n ->
                ObjectTemplates.Subject.node(
                    n.getMetadata().getName(),
                    n.getSpec() == null ? "" : n.getSpec().getPodCIDR(),
                    n.getMetadata().getLabels(),
                    n.getMetadata().getAnnotations())));
  }

  @Override
  public List<String> warnings() {
    return globalConfig.warnings();
  }

  public RequestCounter requests() {
    return requests;
  }

  public KubeRuntimeConfig config() {
    return config;
  }

  @Override
  public CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit) {
    return start(key, settings, previous, onExit, progress -> {});
  }

  /** Reports the pod's phase and its containers' waiting reasons ({@link MountPodProgress}). */
  @Override
  public CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit,
      Consumer<StartProgress> onProgress) {
    return CompletableFuture.supplyAsync(
        () -> {
          try {
            return lifecycle.start(key, settings, previous, onExit, onProgress);
          } catch (Failure f) {
            throw f;
          } catch (RuntimeException e) {
            String why = Redactor.forSettings(settings).redact(String.valueOf(e.getMessage()));
            throw new Failure(
                Failure.Code.INTERNAL,
                "starting the Mount Pod of volume " + key.volumeId() + " failed: " + why,
                e);
          }
        },
        executor);
  }

  /** See {@link MountPodUpgrade}: on a thread of its own. */
  @Override
  public CompletionStage<RunningClient> upgrade(
      RunningClient running, VolumeSettings settings, Consumer<ClientExit> onExit) {
    return CompletableFuture.supplyAsync(
        () -> upgrades.upgrade(running, settings, onExit), executor);
  }

  @Override
  public void keepFuseFds(FuseFdKeeping keeping) {
    this.keeping.set(keeping);
  }

  /**
   * See {@link MountPodLifecycle#stop}: up to the pod's grace period + 20 s, on a thread of its
   * own.
   */
  @Override
  public CompletionStage<Void> stop(RunningClient running) {
    return CompletableFuture.runAsync(() -> lifecycle.stop(running), executor);
  }

  /** See {@link MountPodRecords#save}. */
  @Override
  public void save(ClientRecord record) {
    records.save(record);
  }

  @Override
  public void record(RecordChange change) {
    records.record(change);
  }

  /** Nothing to do: the record is the pod, deleted by {@link #stop}. */
  @Override
  public void remove(ClientKey key) {}

  /** See {@link MountPodRecords#load}. */
  @Override
  public List<ClientRecord> load() {
    return records.load();
  }

  /** See {@link VolumeCaches#clean}. */
  @Override
  public CompletionStage<Void> cleanCache(ClientKey key, VolumeSettings settings) {
    return CompletableFuture.runAsync(() -> caches.clean(key, settings), executor);
  }

  @Override
  public boolean podGone(Path target) {
    return apps.gone(target);
  }

  @Override
  public boolean ready() {
    return pods.synced() && apps.synced() && globalConfig.synced() && mountRootShared();
  }

  @Override
  public void close() {
    stuck.close();
    pods.close();
    apps.close();
    globalConfig.close();
    if (ownsClient) {
      client.close();
    }
  }
}

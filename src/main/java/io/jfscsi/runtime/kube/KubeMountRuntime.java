package io.jfscsi.runtime.kube;

import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.jfscsi.Failure;
import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.runtime.ClientExit;
import io.jfscsi.runtime.ClientKey;
import io.jfscsi.runtime.ClientRecord;
import io.jfscsi.runtime.MountCheck;
import io.jfscsi.runtime.MountRuntime;
import io.jfscsi.runtime.Redactor;
import io.jfscsi.runtime.RunningClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link MountRuntime} of a Kubernetes node: the client of a {@link ClientKey} runs in a
 * Mount Pod on this node ({@link MountPodBuilder}), its secret values in a Secret of its own
 * ({@link MountPodSecret}), and its record is the pod itself: references, delayed exit and the
 * volume's non-secret settings are annotations ({@link PodReferences}, {@link PodSource}), so a
 * restarted driver reads everything back from the API server. Pods made by the Go driver are
 * adopted the same way ({@link GoMountPods}).
 *
 * <p>Reads come from one informer of this node's Mount Pods ({@link MountPodWatch}), so a publish
 * that shares a running client costs one PATCH and no read. Writes of annotations carry the
 * resourceVersion they were computed from and are retried on a conflict.
 */
public final class KubeMountRuntime implements MountRuntime, AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubeMountRuntime.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Pattern UUID = Pattern.compile("\"UUID\"\\s*:\\s*\"([0-9a-fA-F-]{36})\"");
  private static final Duration POLL = Duration.ofMillis(50);

  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final Mounter mounter;
  private final RequestCounter requests;
  private final Executor executor;
  private final MountPodWatch pods;
  private final NodeAppPods apps;
  private final boolean ownsClient;
  /** The last pod each of our writes returned: newer than the informer's until it catches up. */
  private final Map<String, Pod> written = new ConcurrentHashMap<>();
  /** Raw secret maps by Secret name (ours are written by us; read once at load otherwise). */
  private final Map<String, Map<String, String>> secrets = new ConcurrentHashMap<>();
  /** Keys of adopted Go driver pods, by pod name (their labels do not carry our hash). */
  private final Map<String, ClientKey> goKeys = new ConcurrentHashMap<>();
  /** Volume UUIDs of running clients by key (a cache in use is never cleaned). */
  private final Map<ClientKey, String> uuids = new ConcurrentHashMap<>();
  /** Volume UUIDs of stopped clients, until their cache is cleaned. */
  private final Map<ClientKey, String> stoppedUuids = new ConcurrentHashMap<>();

  public KubeMountRuntime(KubeRuntimeConfig config, KubernetesClient client, Mounter mounter,
                          RequestCounter requests, Duration podGoneGrace, boolean ownsClient) {
    this.config = config;
    this.client = client;
    this.mounter = mounter;
    this.requests = requests;
    this.ownsClient = ownsClient;
    this.executor = Executors.newThreadPerTaskExecutor(
        Thread.ofVirtual().name("jfs-mount-pod-", 0).factory());
    this.pods = new MountPodWatch(client, config.namespace(), config.nodeName(), written::remove);
    this.apps = new NodeAppPods(client, config.nodeName(), podGoneGrace, Clock.systemUTC());
  }

  /** A runtime with a client of its own, built from {@code config.kubeconfig()} or fabric8's auto configuration. */
  public static KubeMountRuntime connect(KubeRuntimeConfig config, Mounter mounter, Duration podGoneGrace) {
    RequestCounter counter = new RequestCounter();
    Config kube;
    try {
      kube = config.kubeconfig().isEmpty() ? Config.autoConfigure(null)
          : Config.fromKubeconfig(new java.io.File(config.kubeconfig()));
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("cannot read the kubeconfig " + config.kubeconfig() + ": " + e.getMessage(), e);
    }
    KubernetesClient client = new KubernetesClientBuilder().withConfig(kube)
        .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("jfs-csi-count", counter))
        .build();
    return new KubeMountRuntime(config, client, mounter, counter, podGoneGrace, true);
  }

  /** A Kubernetes Event on the app pod of each container recovery ({@link PodRecoveryEvents}). */
  public PodRecoveryEvents recoveryEvents() {
    return new PodRecoveryEvents(client, config.nodeName(), apps::pod, executor, Clock.systemUTC());
  }

  public RequestCounter requests() {
    return requests;
  }

  public KubeRuntimeConfig config() {
    return config;
  }

  // ---- start -------------------------------------------------------------------------------

  @Override
  public CompletionStage<RunningClient> start(ClientKey key, VolumeSettings settings,
                                              Optional<RunningClient> previous,
                                              Consumer<ClientExit> onExit) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return startBlocking(key, settings, previous, onExit);
      } catch (Failure f) {
        throw f;
      } catch (RuntimeException e) {
        String why = Redactor.forSettings(settings).redact(String.valueOf(e.getMessage()));
        throw new Failure(Failure.Code.INTERNAL, "starting the Mount Pod of volume "
            + key.volumeId() + " failed: " + why, e);
      }
    }, executor);
  }

  private RunningClient startBlocking(ClientKey key, VolumeSettings settings,
                                      Optional<RunningClient> previous, Consumer<ClientExit> onExit) {
    if (previous.isPresent() && !previous.get().key().equals(key)) {
      throw new IllegalArgumentException("the previous client belongs to " + previous.get().key()
          + ", not " + key);
    }
    awaitSynced();
    // The previous pod, or a live one of this key (a container that kubelet restarted in place).
    Optional<Pod> candidate = previous.flatMap(p -> pods.get(p.handle()))
        .filter(p -> !MountPodWatch.ended(p))
        .or(() -> podsOf(key).stream().filter(p -> !MountPodWatch.ended(p)).findFirst());
    if (candidate.isPresent()) {
      Optional<RunningClient> adopted = adopt(key, candidate.get(), onExit);
      if (adopted.isPresent()) {
        supersede(key, adopted.get().handle());
        return adopted.get();
      }
      log.warn("client {}: Mount Pod {} did not become ready; replacing it", key,
          candidate.get().getMetadata().getName());
      discard(candidate.get());
    }
    RunningClient created = create(key, settings, onExit);
    supersede(key, created.handle());
    return created;
  }

  /** Waits until {@code pod} runs, is Ready and its mount answers; then watches it. */
  private Optional<RunningClient> adopt(ClientKey key, Pod pod, Consumer<ClientExit> onExit) {
    String name = pod.getMetadata().getName();
    Optional<Path> mountPath = mountPathOf(pod);
    if (mountPath.isEmpty()) {
      return Optional.empty();
    }
    Optional<Pod> ready = awaitReady(name, mountPath.get(), 0, Integer.MAX_VALUE);
    if (ready.isEmpty()) {
      return Optional.empty();
    }
    RunningClient running = new RunningClient(key, mountPath.get(), name, created(ready.get()));
    pods.watch(running, ready.get(), onExit);
    rememberUuid(key, ready.get(), mountPath.get());
    log.info("adopted Mount Pod {} of client {} at {}", name, key, mountPath.get());
    return Optional.of(running);
  }

  private RunningClient create(ClientKey key, VolumeSettings settings, Consumer<ClientExit> onExit) {
    String suffix = MountPodNames.randomSuffix();
    String name = MountPodNames.podName(config.nodeName(), key.volumeId(), suffix);
    Path mountPath = MountPodNames.mountPath(config.mountRoot(), key, suffix);
    MountPodSecret secret = MountPodSecret.of(MountPodNames.secretName(config.nodeName(), key), settings);
    Pod pod = MountPodBuilder.build(config, new MountPodBuilder.Identity(key, name, mountPath),
        settings, secret);
    copyReferences(key, pod);
    try {
      Files.createDirectories(mountPath);
    } catch (IOException e) {
      throw new Failure(Failure.Code.INTERNAL, "cannot create mount point " + mountPath + ": " + e.getMessage());
    }
    ensureSecret(secret);
    try {
      written.put(name, client.pods().inNamespace(config.namespace()).resource(pod).create());
    } catch (KubernetesClientException e) {
      removeEmptyDir(mountPath);
      throw new Failure(Failure.Code.UNAVAILABLE, "cannot create Mount Pod " + name + " in namespace "
          + config.namespace() + ": " + e.getMessage(), e);
    }
    log.info("created Mount Pod {} for client {} at {}", name, key, mountPath);
    Optional<Pod> ready = awaitReady(name, mountPath, 0, 0);
    if (ready.isEmpty()) {
      String why = describeFailure(name, settings);
      discard(pods.get(name).orElse(pod));
      throw new Failure(Failure.Code.UNAVAILABLE, "the Mount Pod " + name + " of volume "
          + key.volumeId() + " did not run its client with an answering mount at " + mountPath
          + " within " + config.podReadyTimeout() + "; it was deleted." + why);
    }
    RunningClient running = new RunningClient(key, mountPath, name, Instant.now());
    pods.watch(running, ready.get(), onExit);
    rememberUuid(key, ready.get(), mountPath);
    return running;
  }

  /**
   * Polls the informer's copy of pod {@code name} (no API read) until it is Running and Ready
   * and the mount at {@code mountPath} answers. Gives up when the pod ends, when its container
   * restarts more than {@code maxRestarts} times beyond {@code baseline} (a client that cannot
   * start), or at the timeout.
   */
  private Optional<Pod> awaitReady(String name, Path mountPath, int baseline, int maxRestarts) {
    long deadline = System.nanoTime() + config.podReadyTimeout().toNanos();
    while (System.nanoTime() - deadline < 0) {
      Optional<Pod> pod = latest(name);
      if (pod.isEmpty()) {
        return Optional.empty(); // deleted (a new pod is in written until the informer has it)
      }
      {
        Pod p = pod.get();
        if (MountPodWatch.ended(p)
            || MountPodWatch.restartCount(p) - baseline > maxRestarts) {
          return Optional.empty();
        }
        if (MountPodWatch.runningAndReady(p) && MountCheck.answeringFuse(mounter, mountPath)) {
          return pods.get(name).or(() -> pod);
        }
      }
      sleep(POLL);
    }
    return Optional.empty();
  }

  /** Why a new pod failed: its phase, its container's state and the tail of its log, secrets masked. */
  private String describeFailure(String name, VolumeSettings settings) {
    StringBuilder why = new StringBuilder();
    latest(name).ifPresent(p -> {
      why.append(" Pod phase ").append(p.getStatus() == null ? "?" : p.getStatus().getPhase());
      MountPodWatch.container(p).ifPresent(s -> why.append(", restarts ").append(s.getRestartCount())
          .append(s.getLastState() != null && s.getLastState().getTerminated() != null
              ? ", last exit code " + s.getLastState().getTerminated().getExitCode() : ""));
      why.append('.');
    });
    try {
      String tail = client.pods().inNamespace(config.namespace()).withName(name).tailingLines(20).getLog();
      if (tail != null && !tail.isBlank()) {
        why.append(" Its log ends with:\n").append(Redactor.forSettings(settings).redact(tail.strip()));
      }
    } catch (KubernetesClientException e) {
      log.debug("no log of {}: {}", name, e.getMessage());
    }
    return why.toString();
  }

  /** The new pod starts with the references of the pods of this key it replaces. */
  private void copyReferences(ClientKey key, Pod pod) {
    Map<String, String> annotations = pod.getMetadata().getAnnotations();
    for (Pod old : podsOf(key)) {
      Map<String, String> a = PodReferences.annotations(old);
      for (String target : PodReferences.targets(a)) {
        annotations.put(MountPodNames.referenceKey(target), target);
      }
      Set<String> ro = new LinkedHashSet<>(PodReferences.readOnly(annotations));
      ro.addAll(PodReferences.readOnly(a));
      if (!ro.isEmpty()) {
        annotations.put(MountPodNames.READ_ONLY, String.join("\n", ro));
      }
    }
  }

  private void ensureSecret(MountPodSecret secret) {
    Secret s = secret.toSecret(config.namespace());
    try {
      client.secrets().inNamespace(config.namespace()).resource(s).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw new Failure(Failure.Code.UNAVAILABLE, "cannot create Secret " + secret.name()
            + " in namespace " + config.namespace() + ": " + e.getStatus().getMessage(), e);
      }
      // Same name, same key: the same values, unless a stale one was left behind. Overwrite.
      client.secrets().inNamespace(config.namespace()).resource(s).update();
    }
    secrets.put(secret.name(), Map.copyOf(fromJson(secret.data().get(MountPodSecret.SOURCE_KEY))));
  }

  /** Other pods of {@code key} than the one kept: delete them and wait until they are gone. */
  private void supersede(ClientKey key, String kept) {
    for (Pod old : podsOf(key)) {
      if (!old.getMetadata().getName().equals(kept)) {
        log.info("client {}: Mount Pod {} is replaced by {}", key, old.getMetadata().getName(), kept);
        discard(old);
      }
    }
  }

  /** A pod that is not (or no longer) used: delete it, wait until it is gone, unmount its path. */
  private void discard(Pod pod) {
    String name = pod.getMetadata().getName();
    pods.unwatch(name);
    deletePod(pod);
    awaitGone(name);
    mountPathOf(pod).ifPresent(this::unmountQuietly);
    written.remove(name);
  }

  // ---- stop --------------------------------------------------------------------------------

  @Override
  public void stop(RunningClient running) {
    String name = running.handle();
    pods.unwatch(name);
    Optional<Pod> pod = latest(name);
    pod.ifPresent(p -> {
      deletePod(p);
      awaitGone(name);
    });
    unmountQuietly(running.mountPath());
    written.remove(name);
    String uuid = uuids.remove(running.key());
    if (uuid != null) {
      stoppedUuids.put(running.key(), uuid);
    }
    pod.flatMap(KubeMountRuntime::secretOf).ifPresent(secret -> deleteSecretIfUnused(secret, name));
    log.info("stopped client {} (Mount Pod {})", running.key(), name);
  }

  /** Deletes the pod (kubelet stops the client), then drops our finalizer so the object goes. */
  private void deletePod(Pod pod) {
    String name = pod.getMetadata().getName();
    var resource = client.pods().inNamespace(config.namespace()).withName(name);
    try {
      if (pod.getMetadata().getDeletionTimestamp() == null) {
        resource.delete();
      }
    } catch (KubernetesClientException e) {
      if (e.getCode() != 404) {
        throw new Failure(Failure.Code.UNAVAILABLE, "cannot delete Mount Pod " + name + ": " + e.getMessage(), e);
      }
    }
    Pod current = pod;
    for (int attempt = 0; attempt < 5 && current != null; attempt++) {
      List<String> finalizers = current.getMetadata().getFinalizers();
      int at = finalizers == null ? -1 : finalizers.indexOf(MountPodNames.FINALIZER);
      if (at < 0) {
        return;
      }
      String patch = "[{\"op\":\"test\",\"path\":\"/metadata/finalizers/" + at + "\",\"value\":\""
          + MountPodNames.FINALIZER + "\"},{\"op\":\"remove\",\"path\":\"/metadata/finalizers/" + at + "\"}]";
      try {
        // On the object itself: on a name alone, fabric8 would GET it first.
        client.pods().inNamespace(config.namespace()).resource(current)
            .patch(PatchContext.of(PatchType.JSON), patch);
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 404) {
          return;
        }
        if (e.getCode() != 409 && e.getCode() != 422 && e.getCode() != 500) {
          throw new Failure(Failure.Code.UNAVAILABLE, "cannot remove the finalizer of Mount Pod "
              + name + ": " + e.getMessage(), e);
        }
        current = resource.get(); // the list changed under us: read it again
      }
    }
  }

  private void awaitGone(String name) {
    long deadline = System.nanoTime() + config.terminationGrace().plusSeconds(20).toNanos();
    while (pods.get(name).isPresent() && System.nanoTime() - deadline < 0) {
      sleep(POLL);
    }
    if (pods.get(name).isPresent()) {
      log.warn("Mount Pod {} is still there after its grace period", name);
    }
  }

  private void deleteSecretIfUnused(String secret, String stoppedPod) {
    if (!secret.startsWith("jfs-csi-")) {
      return; // the Go driver's Secret belongs to its PV
    }
    boolean used = pods.all().stream().anyMatch(p -> !p.getMetadata().getName().equals(stoppedPod)
        && secretOf(p).filter(secret::equals).isPresent());
    if (used) {
      return;
    }
    try {
      client.secrets().inNamespace(config.namespace()).withName(secret).delete();
    } catch (KubernetesClientException e) {
      log.warn("cannot delete Secret {}: {}", secret, e.getMessage());
    }
    secrets.remove(secret);
  }

  // ---- records -----------------------------------------------------------------------------

  /**
   * Writes the record's references and delayed exit to its pod's annotations: only what changed,
   * as a merge patch that carries the resourceVersion it was computed from; a conflict reads the
   * pod again and retries. A pod being deleted takes no new reference.
   */
  @Override
  public void save(ClientRecord record) {
    if (record.running().isEmpty()) {
      return; // no pod to write to: the record lives in the actor until one runs
    }
    String name = record.running().get().handle();
    for (int attempt = 0; attempt < 8; attempt++) {
      Optional<Pod> current = latest(name);
      if (current.isEmpty()) {
        if (!record.targets().isEmpty()) {
          throw new Failure(Failure.Code.UNAVAILABLE, "Mount Pod " + name + " is gone; retry");
        }
        return;
      }
      Pod pod = current.get();
      Map<String, String> annotations = PodReferences.annotations(pod);
      Map<String, String> patch = PodReferences.diff(annotations, record);
      String uuid = uuids.get(record.key());
      if (uuid != null && !uuid.equals(annotations.get(MountPodNames.UUID))) {
        patch.put(MountPodNames.UUID, uuid);
      }
      // The UUID alone waits for the first reference (a started client saves before it binds
      // any target): one PATCH for both. It is in memory meanwhile.
      if (patch.isEmpty() || patch.size() == 1 && patch.containsKey(MountPodNames.UUID)
          && record.targets().isEmpty()) {
        return;
      }
      if (pod.getMetadata().getDeletionTimestamp() != null
          && PodReferences.addsReference(annotations, patch)) {
        throw new Failure(Failure.Code.UNAVAILABLE, "Mount Pod " + name
            + " is being deleted; a new one is started, retry");
      }
      ObjectNode body = JSON.createObjectNode();
      ObjectNode meta = body.putObject("metadata");
      meta.put("resourceVersion", pod.getMetadata().getResourceVersion());
      ObjectNode a = meta.putObject("annotations");
      patch.forEach((k, v) -> {
        if (v == null) {
          a.putNull(k);
        } else {
          a.put(k, v);
        }
      });
      var resource = client.pods().inNamespace(config.namespace()).withName(name);
      try {
        // On the object itself: on a name alone, fabric8 would GET it first.
        written.put(name, client.pods().inNamespace(config.namespace()).resource(pod)
            .patch(PatchContext.of(PatchType.JSON_MERGE), body.toString()));
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          Pod fresh = resource.get();
          if (fresh != null) {
            written.put(name, fresh);
          } else {
            written.remove(name);
          }
          continue;
        }
        if (e.getCode() == 404) {
          written.remove(name);
          continue;
        }
        throw new Failure(Failure.Code.UNAVAILABLE, "cannot record the references of client "
            + record.key() + " on Mount Pod " + name + ": " + e.getMessage(), e);
      }
    }
    throw new Failure(Failure.Code.ABORTED, "Mount Pod " + name + " kept changing while its "
        + "references were written; retry");
  }

  /** Nothing to do: the record is the pod, deleted by {@link #stop}. */
  @Override
  public void remove(ClientKey key) {
  }

  /**
   * The clients of this node's Mount Pods (ours and the Go driver's), from the informer cache
   * once synced; one Secret read per client whose secret values this process does not know.
   */
  @Override
  public List<ClientRecord> load() {
    awaitSynced();
    Map<ClientKey, List<Pod>> byKey = new LinkedHashMap<>();
    Map<ClientKey, VolumeSource> sources = new HashMap<>();
    Map<String, Path> mountPaths = new HashMap<>();
    List<Pod> all = new ArrayList<>(pods.all());
    all.sort(Comparator.comparing((Pod p) -> p.getMetadata().getCreationTimestamp(),
        Comparator.nullsFirst(Comparator.naturalOrder())).reversed());
    for (Pod pod : all) {
      String name = pod.getMetadata().getName();
      Map<String, String> annotations = PodReferences.annotations(pod);
      if (MountPodWatch.ended(pod) && PodReferences.targets(annotations).isEmpty()) {
        executor.execute(() -> discard(pod)); // released, or cut short by a crash: finish it
        continue;
      }
      try {
        Optional<Resolved> resolved = resolve(pod);
        if (resolved.isEmpty()) {
          log.error("Mount Pod {} cannot be read back (no source or Secret); left as it is", name);
          continue;
        }
        byKey.computeIfAbsent(resolved.get().key(), k -> new ArrayList<>()).add(pod);
        sources.putIfAbsent(resolved.get().key(), resolved.get().source());
        mountPaths.put(name, resolved.get().mountPath());
        Optional.ofNullable(annotations.get(MountPodNames.UUID))
            .ifPresent(u -> uuids.putIfAbsent(resolved.get().key(), u));
      } catch (RuntimeException e) {
        log.error("Mount Pod {} cannot be read back: {}", name, e.getMessage());
      }
    }
    List<ClientRecord> records = new ArrayList<>();
    byKey.forEach((key, list) -> {
      Pod chosen = list.stream().filter(p -> !MountPodWatch.ended(p)).findFirst().orElse(list.getFirst());
      Set<String> targets = new LinkedHashSet<>();
      Set<String> readOnly = new LinkedHashSet<>();
      for (Pod p : list) {
        targets.addAll(PodReferences.targets(PodReferences.annotations(p)));
        readOnly.addAll(PodReferences.readOnly(PodReferences.annotations(p)));
      }
      readOnly.retainAll(targets);
      Map<String, String> a = PodReferences.annotations(chosen);
      RunningClient running = new RunningClient(key, mountPaths.get(chosen.getMetadata().getName()),
          chosen.getMetadata().getName(), created(chosen));
      records.add(new ClientRecord(key, sources.get(key), targets, readOnly,
          PodReferences.deleteAt(a), Optional.of(running)));
    });
    log.info("read {} clients back from {} Mount Pods on node {}", records.size(), all.size(),
        config.nodeName());
    return records;
  }

  private record Resolved(ClientKey key, VolumeSource source, Path mountPath) {}

  private Optional<Resolved> resolve(Pod pod) {
    Map<String, String> a = PodReferences.annotations(pod);
    if (!GoMountPods.isGoPod(pod)) {
      Optional<PodSource> source = PodSource.parse(a.get(MountPodNames.SOURCE));
      String hash = a.get(MountPodNames.CLIENT_HASH);
      String path = a.get(MountPodNames.MOUNT_PATH);
      if (source.isEmpty() || hash == null || path == null) {
        return Optional.empty();
      }
      Optional<Map<String, String>> raw = secretValues(source.get().secret());
      return raw.map(r -> new Resolved(new ClientKey(source.get().volumeId(), hash),
          source.get().withSecrets(r), Path.of(path)));
    }
    Optional<String> secretName = GoMountPods.secretName(pod);
    Optional<Path> mountPath = GoMountPods.mountPath(pod);
    if (secretName.isEmpty() || mountPath.isEmpty()) {
      return Optional.empty();
    }
    Secret secret = client.secrets().inNamespace(config.namespace()).withName(secretName.get()).get();
    if (secret == null) {
      return Optional.empty();
    }
    Optional<VolumeSource> source = GoMountPods.source(pod, secret);
    if (source.isEmpty()) {
      return Optional.empty();
    }
    ClientKey key = new ClientKey(source.get().volumeId(), SettingsParser.parse(source.get()).clientHash());
    goKeys.put(pod.getMetadata().getName(), key);
    log.info("Mount Pod {} was made by the Go driver: adopted as client {}", pod.getMetadata().getName(), key);
    return Optional.of(new Resolved(key, source.get(), mountPath.get()));
  }

  private Optional<Map<String, String>> secretValues(String name) {
    Map<String, String> known = secrets.get(name);
    if (known != null) {
      return Optional.of(known);
    }
    Secret secret = client.secrets().inNamespace(config.namespace()).withName(name).get();
    Optional<Map<String, String>> raw = secret == null ? Optional.empty() : MountPodSecret.sourceSecrets(secret);
    raw.ifPresent(r -> secrets.put(name, Map.copyOf(r)));
    return raw;
  }

  // ---- cache, references, readiness -----------------------------------------------------

  /**
   * Removes the stopped client's cache with a Job on this node (its files belong to the host,
   * which the driver may not see), unless another Mount Pod of this node uses the same volume
   * (UUID). The Job is created here; it is awaited and deleted in the background.
   */
  @Override
  public void cleanCache(VolumeSettings settings) {
    ClientKey key = new ClientKey(settings.volumeId(), settings.clientHash());
    String uuid = stoppedUuids.remove(key);
    if (uuid == null) {
      log.warn("cache of volume {} left in place: its UUID is not known (no .config at the mount)",
          settings.volumeId());
      return;
    }
    boolean shared = pods.all().stream().anyMatch(p -> !MountPodWatch.ended(p)
        && uuid.equals(PodReferences.annotations(p).get(MountPodNames.UUID)))
        || uuids.containsValue(uuid);
    if (shared) {
      log.info("cache of volume {} left in place: another Mount Pod uses volume {}", settings.volumeId(), uuid);
      return;
    }
    String name = "jfs-clean-cache-" + MountPodNames.sha256(key.name()).substring(0, 12) + "-"
        + MountPodNames.randomSuffix();
    var job = CacheCleanJob.build(config, settings, uuid, name);
    try {
      client.batch().v1().jobs().inNamespace(config.namespace()).resource(job).create();
      log.info("cache of volume {} is being removed by Job {}", settings.volumeId(), name);
    } catch (KubernetesClientException e) {
      log.warn("cannot create the cache clean Job of volume {}: {}", settings.volumeId(), e.getMessage());
      return;
    }
    executor.execute(() -> reapJob(name));
  }

  private void reapJob(String name) {
    var resource = client.batch().v1().jobs().inNamespace(config.namespace()).withName(name);
    try {
      resource.waitUntilCondition(j -> j == null || j.getStatus() != null
          && ((j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() > 0)
          || (j.getStatus().getFailed() != null && j.getStatus().getFailed() > 2)), 10, TimeUnit.MINUTES);
      var job = resource.get();
      if (job != null && job.getStatus() != null && job.getStatus().getSucceeded() != null
          && job.getStatus().getSucceeded() > 0) {
        resource.withPropagationPolicy(io.fabric8.kubernetes.api.model.DeletionPropagation.BACKGROUND).delete();
      } else if (job != null) {
        log.warn("cache clean Job {} did not succeed; left for inspection", name);
      }
    } catch (RuntimeException e) {
      log.warn("cache clean Job {}: {}", name, e.getMessage());
    }
  }

  @Override
  public boolean podGone(Path target) {
    return apps.gone(target);
  }

  @Override
  public boolean ready() {
    return pods.synced() && apps.synced();
  }

  // ---- helpers -----------------------------------------------------------------------------

  private void awaitSynced() {
    long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (!pods.synced() && System.nanoTime() - deadline < 0) {
      sleep(POLL);
    }
    if (!pods.synced()) {
      throw new Failure(Failure.Code.UNAVAILABLE, "the Mount Pods of node " + config.nodeName()
          + " could not be listed from the API server");
    }
  }

  /** This node's Mount Pods of {@code key}, newest first. */
  private List<Pod> podsOf(ClientKey key) {
    List<Pod> out = new ArrayList<>();
    for (Pod p : pods.all()) {
      if (key.equals(keyOf(p))) {
        out.add(p);
      }
    }
    out.sort(Comparator.comparing((Pod p) -> p.getMetadata().getCreationTimestamp(),
        Comparator.nullsFirst(Comparator.naturalOrder())).reversed());
    return out;
  }

  private ClientKey keyOf(Pod pod) {
    Map<String, String> a = PodReferences.annotations(pod);
    String hash = a.get(MountPodNames.CLIENT_HASH);
    String volume = a.get(MountPodNames.UNIQUE_ID);
    if (hash != null && volume != null) {
      return new ClientKey(volume, hash);
    }
    return goKeys.get(pod.getMetadata().getName());
  }

  private static Optional<Path> mountPathOf(Pod pod) {
    String path = PodReferences.annotations(pod).get(MountPodNames.MOUNT_PATH);
    return path != null ? Optional.of(Path.of(path)) : GoMountPods.mountPath(pod);
  }

  private static Optional<String> secretOf(Pod pod) {
    return PodSource.parse(PodReferences.annotations(pod).get(MountPodNames.SOURCE))
        .map(PodSource::secret).or(() -> GoMountPods.secretName(pod));
  }

  /** The newer of the informer's copy and the one our last write returned. */
  private Optional<Pod> latest(String name) {
    Optional<Pod> cached = pods.get(name);
    Pod mine = written.get(name);
    if (mine == null) {
      return cached;
    }
    if (cached.isEmpty()) {
      // Our write is newer than a cache that has not seen the pod yet; once the informer saw
      // the pod, its absence there means it is gone.
      return Optional.of(mine);
    }
    return Optional.of(version(mine) > version(cached.get()) ? mine : cached.get());
  }

  private static long version(Pod pod) {
    try {
      return Long.parseLong(pod.getMetadata().getResourceVersion());
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static Instant created(Pod pod) {
    try {
      return Instant.parse(pod.getMetadata().getCreationTimestamp());
    } catch (RuntimeException e) {
      return Instant.now();
    }
  }

  /** Reads the volume UUID from the JuiceFS virtual file {@code .config} at the mount root. */
  private void rememberUuid(ClientKey key, Pod pod, Path mountPath) {
    String known = PodReferences.annotations(pod).get(MountPodNames.UUID);
    if (known != null) {
      uuids.put(key, known);
      return;
    }
    CompletableFuture<Optional<String>> read = CompletableFuture.supplyAsync(() -> {
      try {
        Matcher m = UUID.matcher(Files.readString(mountPath.resolve(".config")));
        return m.find() ? Optional.of(m.group(1)) : Optional.<String>empty();
      } catch (IOException | RuntimeException e) {
        return Optional.<String>empty();
      }
    }, executor);
    try {
      read.get(2, TimeUnit.SECONDS).ifPresent(u -> uuids.put(key, u));
    } catch (Exception e) {
      log.debug("no UUID of client {}: {}", key, e.toString());
    }
  }

  private void unmountQuietly(Path mountPath) {
    try {
      if (MountCheck.hasMount(mounter, mountPath)) {
        mounter.unmount(mountPath);
      }
    } catch (MountException e) {
      log.warn("cannot unmount {}: {}", mountPath, e.getMessage());
    }
    removeEmptyDir(mountPath);
  }

  private static void removeEmptyDir(Path dir) {
    try {
      Files.deleteIfExists(dir);
    } catch (IOException e) {
      log.debug("left {} in place: {}", dir, e.toString());
    }
  }

  private static Map<String, String> fromJson(String json) {
    try {
      return JSON.readValue(json, new tools.jackson.core.type.TypeReference<Map<String, String>>() { });
    } catch (tools.jackson.core.JacksonException e) {
      throw new IllegalStateException(e);
    }
  }

  private static void sleep(Duration d) {
    try {
      Thread.sleep(d);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Failure.Code.ABORTED, "interrupted");
    }
  }

  @Override
  public void close() {
    pods.close();
    apps.close();
    if (ownsClient) {
      client.close();
    }
  }
}

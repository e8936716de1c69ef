package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.fusefd.FuseFdKeeping;
import io.jfscsi.host.MountCheck;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How a new Mount Pod is made, for a fresh client ({@link MountPodLifecycle}) and for the pod that
 * takes a client's FUSE connection over ({@link MountPodUpgrade}): built with the ConfigMap in
 * force, created with its Secret and the references of the pods it replaces, and waited for until
 * its mount answers; a pod that does not get there is deleted and the failure says why. Blocking:
 * the runtime calls it from its own threads.
 */
final class MountPodCreation {
  private static final Logger log = LoggerFactory.getLogger(MountPodCreation.class);

  /** How long a failed start's message waits for the end of the pod's log. */
  static final Duration LOG_WAIT = Duration.ofSeconds(5);

  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final Mounter mounter;
  private final MountPodWatch pods;
  private final MountPodSecrets secrets;
  private final VolumeCaches caches;
  private final MountPodRemoval removal;
  private final ConfigMapPatches patches;
  private final Executor executor;
  private final Supplier<FuseFdKeeping> keeping;

  MountPodCreation(
      KubeRuntimeConfig config,
      KubernetesClient client,
      Mounter mounter,
      MountPodWatch pods,
      MountPodSecrets secrets,
      VolumeCaches caches,
      MountPodRemoval removal,
      ConfigMapPatches patches,
      Executor executor,
      Supplier<FuseFdKeeping> keeping) {
    this.config = config;
    this.client = client;
    this.mounter = mounter;
    this.pods = pods;
    this.secrets = secrets;
    this.caches = caches;
    this.removal = removal;
    this.patches = patches;
    this.executor = executor;
    this.keeping = keeping;
  }

  /** A pod built and the client Secret it reads. */
  record Built(Pod pod, MountPodSecret secret) {}

  /** A new pod of {@code key} for {@code mountPath}, built but not created. */
  Built build(ClientKey key, VolumeSettings settings, String name, Path mountPath) {
    ConfigMapPatches.Plan plan = patches.plan(settings, mountPath);
    MountPodSecret secret =
        MountPodSecret.of(MountPodNames.secretName(config.nodeName(), key), plan.settings());
    Pod pod =
        MountPodBuilder.build(
            config,
            new MountPodBuilder.Identity(key, name, mountPath),
            plan.settings(),
            secret,
            plan.patch());
    if (plan.nodeSelectorHost().isPresent()) {
      ConfigMapPatch.placeByNodeSelector(pod, plan.nodeSelectorHost().get());
    }
    FusePassing.apply(pod, config.fuseFdDir(), key);
    return new Built(pod, secret);
  }

  /**
   * Creates a pod of {@code key} at {@code mountPath}, with the references of {@code predecessors},
   * and waits until it serves there.
   */
  RunningClient create(
      ClientKey key,
      VolumeSettings settings,
      Consumer<ClientExit> onExit,
      MountPodProgress.Reporter progress,
      String suffix,
      Path mountPath,
      List<Pod> predecessors) {
    String name = MountPodNames.podName(config.nodeName(), key.volumeId(), suffix);
    Built built = build(key, settings, name, mountPath);
    Pod pod = built.pod();
    MountPodSecret secret = built.secret();
    FusePassing.dirOf(pod).ifPresent(dir -> keeping.get().open(FusePassing.upgradeId(key), dir));
    copyReferences(predecessors, pod);
    try {
      Files.createDirectories(mountPath);
    } catch (IOException e) {
      throw new Failure(
          Failure.Code.INTERNAL, "cannot create mount point " + mountPath + ": " + e.getMessage());
    }
    secrets.ensure(secret);
    try {
      pods.wrote(name, client.pods().inNamespace(config.namespace()).resource(pod).create());
    } catch (KubernetesClientException e) {
      MountCheck.removeEmptyDir(mountPath);
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "cannot create Mount Pod "
              + name
              + " in namespace "
              + config.namespace()
              + ": "
              + e.getMessage(),
          e);
    }
    log.info("created Mount Pod {} for client {} at {}", name, key, mountPath);
    Optional<Pod> ready = awaitReady(name, mountPath, 0, 0, progress);
    if (ready.isEmpty()) {
      String why = describeFailure(name, mountPath, settings);
      removal.discard(pods.get(name).orElse(pod));
      secrets.deleteIfUnused(secret.name(), name);
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "the Mount Pod "
              + name
              + " of volume "
              + key.volumeId()
              + " did not run its client with an answering mount at "
              + mountPath
              + " within "
              + config.podReadyTimeout()
              + "; it was deleted."
              + why);
    }
    RunningClient running =
        new RunningClient(
            key, mountPath, name, Instant.now(), ExitAnnotations.of(ready.get(), settings));
    pods.watch(running, ready.get(), onExit);
    caches.remember(key, ready.get(), mountPath);
    return running;
  }

  /**
   * Polls the informer's copy of pod {@code name} (no API read) until it is Running and Ready and
   * the mount at {@code mountPath} answers. Gives up when the pod ends, when its container restarts
   * more than {@code maxRestarts} times beyond {@code baseline} (a client that cannot start), or at
   * the timeout. Meanwhile tells {@code progress} what the pod waits on.
   */
  Optional<Pod> awaitReady(
      String name,
      Path mountPath,
      int baseline,
      int maxRestarts,
      MountPodProgress.Reporter progress) {
    long deadline = System.nanoTime() + config.podReadyTimeout().toNanos();
    while (System.nanoTime() - deadline < 0) {
      Optional<Pod> pod = pods.latest(name);
      if (pod.isEmpty()) {
        return Optional
            .empty(); // deleted (a new pod is our write's copy until the informer has it)
      }
      Pod p = pod.get();
      if (MountPodWatch.ended(p) || MountPodWatch.restartCount(p) - baseline > maxRestarts) {
        return Optional.empty();
      }
      if (MountPodWatch.runningAndReady(p) && MountCheck.answeringFuse(mounter, mountPath)) {
        return pods.get(name).or(() -> pod);
      }
      progress.look(p, mountPath);
      MountPodWatch.pause();
    }
    return Optional.empty();
  }

  /**
   * Why a new pod failed: its phase, its containers' waiting reasons and last exits ({@link
   * MountPodProgress}) and the tail of its log, secrets masked.
   */
  private String describeFailure(String name, Path mountPath, VolumeSettings settings) {
    Redactor redactor = Redactor.forSettings(settings);
    StringBuilder why = new StringBuilder();
    pods.latest(name)
        .ifPresent(
            p ->
                why.append(' ')
                    .append(MountPodProgress.of(p, mountPath, redactor).description())
                    .append('.'));
    // The log comes through the node's kubelet; one that does not answer (the client's retries
    // of a refused connection take minutes) must not hold the answer of the waiting publishes.
    var read =
        CompletableFuture.supplyAsync(
            () ->
                client
                    .pods()
                    .inNamespace(config.namespace())
                    .withName(name)
                    .tailingLines(20)
                    .getLog(),
            executor);
    try {
      String tail = read.get(LOG_WAIT.toMillis(), TimeUnit.MILLISECONDS);
      if (tail != null && !tail.isBlank()) {
        why.append(" Its log ends with:\n").append(redactor.redact(tail.strip()));
      }
    } catch (TimeoutException e) {
      read.cancel(true);
      why.append(" Its log could not be read within ").append(LOG_WAIT.toSeconds()).append(" s.");
    } catch (ExecutionException e) {
      log.debug("no log of {}: {}", name, e.getCause().getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    return why.toString();
  }

  /** The new pod starts with the references of the pods of this key it replaces. */
  private static void copyReferences(List<Pod> from, Pod pod) {
    Map<String, String> annotations = pod.getMetadata().getAnnotations();
    for (Pod old : from) {
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
}

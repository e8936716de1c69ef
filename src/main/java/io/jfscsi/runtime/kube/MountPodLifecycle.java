package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.StartProgress;
import io.jfscsi.fusefd.FuseFdKeeping;
import io.jfscsi.host.MountCheck;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.function.Consumer;
import java.util.function.Predicate;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Mount Pods of this node's clients from creation to deletion: a start adopts the previous pod
 * of its key (or another live one) once it is Ready with an answering mount, or else creates a new
 * pod with its Secret and waits for the same ({@link MountPodCreation}), and then deletes the other
 * pods of the key in the background; a stop removes the pod ({@link MountPodRemoval}) and then its
 * Secret unless another pod reads it. Blocking: the runtime calls it from its own threads.
 */
final class MountPodLifecycle {
  private static final Logger log = LoggerFactory.getLogger(MountPodLifecycle.class);

  private final KubeRuntimeConfig config;
  private final Mounter mounter;
  private final MountPodWatch pods;
  private final MountPodSecrets secrets;
  private final VolumeCaches caches;
  private final Executor executor;
  private final MountPodRemoval removal;
  private final Supplier<FuseFdKeeping> keeping;
  private final MountPodCreation creation;

  /** Pods being removed in the background after a replacement: never adopted again. */
  private final Set<String> retiring = ConcurrentHashMap.newKeySet();

  MountPodLifecycle(
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
    this.keeping = keeping;
    this.config = config;
    this.creation =
        new MountPodCreation(
            config, client, mounter, pods, secrets, caches, removal, patches, executor, keeping);
    this.executor = executor;
    this.mounter = mounter;
    this.pods = pods;
    this.secrets = secrets;
    this.caches = caches;
    this.removal = removal;
  }

  // ---- start -------------------------------------------------------------------------------

  /**
   * Adopts the previous (or a live) pod of {@code key}, or replaces it with a new one; tells {@code
   * onProgress} what the pod it waits for waits on, each time that changes.
   */
  RunningClient start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit,
      Consumer<StartProgress> onProgress) {
    if (previous.isPresent() && !previous.get().key().equals(key)) {
      throw new IllegalArgumentException(
          "the previous client belongs to " + previous.get().key() + ", not " + key);
    }
    pods.awaitSynced();
    var progress = new MountPodProgress.Reporter(onProgress, Redactor.forSettings(settings));
    // The previous pod, or a live one of this key (a container that kubelet restarted in place).
    Predicate<Pod> usable =
        p -> !MountPodWatch.ended(p) && !retiring.contains(p.getMetadata().getName());
    Optional<Pod> candidate =
        previous
            .flatMap(p -> pods.get(p.handle()))
            .filter(usable)
            .or(() -> pods.of(key).stream().filter(usable).findFirst());
    if (candidate.isPresent()) {
      // A container that has died is restarted in place by kubelet on its CrashLoopBackOff
      // schedule (10 s, 20 s, ... 5 min): adopt it only if it serves right now, else a new pod
      // (whose backoff starts afresh) replaces it at once, so every recovery is as fast as the
      // first. A pod that never died is still starting: wait for it.
      Pod pod = candidate.get();
      int restarts = MountPodWatch.restartCount(pod);
      Optional<RunningClient> adopted = adopt(key, settings, pod, onExit, restarts > 0, progress);
      if (adopted.isPresent()) {
        supersedeLater(key, adopted.get().handle());
        return adopted.get();
      }
      if (restarts > 0) {
        log.info(
            "client {}: the client of Mount Pod {} died (restart count {}) and is not serving;"
                + " a new pod replaces it instead of kubelet's restart",
            key,
            pod.getMetadata().getName(),
            restarts);
      } else {
        log.warn(
            "client {}: Mount Pod {} did not become ready; replacing it",
            key,
            pod.getMetadata().getName());
      }
    }
    RunningClient created = create(key, settings, onExit, progress);
    supersedeLater(key, created.handle());
    return created;
  }

  /**
   * Waits until {@code pod} runs, is Ready and its mount answers (or, with {@code onlyIfServing},
   * looks once); then watches it.
   */
  private Optional<RunningClient> adopt(
      ClientKey key,
      VolumeSettings settings,
      Pod pod,
      Consumer<ClientExit> onExit,
      boolean onlyIfServing,
      MountPodProgress.Reporter progress) {
    String name = pod.getMetadata().getName();
    Optional<Path> mountPath = MountPodRemoval.mountPathOf(pod);
    if (mountPath.isEmpty()) {
      return Optional.empty();
    }
    Optional<Pod> ready =
        onlyIfServing
            ? Optional.of(pod)
                .filter(
                    p ->
                        MountPodWatch.runningAndReady(p)
                            && MountCheck.answeringFuse(mounter, mountPath.get()))
            : creation.awaitReady(name, mountPath.get(), 0, Integer.MAX_VALUE, progress);
    if (ready.isEmpty()) {
      return Optional.empty();
    }
    // A restarted driver holds the client's FUSE fd again: its keeper takes it back.
    FusePassing.dirOf(pod).ifPresent(dir -> keeping.get().open(FusePassing.upgradeId(key), dir));
    RunningClient running =
        new RunningClient(
            key,
            mountPath.get(),
            name,
            MountPodWatch.created(ready.get()),
            ExitAnnotations.of(ready.get(), settings));
    pods.watch(running, ready.get(), onExit);
    caches.remember(key, ready.get(), mountPath.get());
    log.info("adopted Mount Pod {} of client {} at {}", name, key, mountPath.get());
    return Optional.of(running);
  }

  private RunningClient create(
      ClientKey key,
      VolumeSettings settings,
      Consumer<ClientExit> onExit,
      MountPodProgress.Reporter progress) {
    String suffix = MountPodNames.randomSuffix();
    // A fresh client mounts afresh: a FUSE fd kept for a dead one would be served, but at the
    // dead one's mount path, not this pod's. Only an upgrade hands a connection on.
    keeping.get().close(FusePassing.upgradeId(key));
    Path mountPath = MountPodNames.mountPath(config.mountRoot(), key, suffix);
    return creation.create(key, settings, onExit, progress, suffix, mountPath, pods.of(key));
  }

  /** How new pods are made: also the smooth upgrade's ({@link MountPodUpgrade}). */
  MountPodCreation creation() {
    return creation;
  }

  /**
   * Other pods of {@code key} than the one kept go, in the background: the new client serves
   * already, and a pod that never started can stay Terminating for a minute.
   */
  private void supersedeLater(ClientKey key, String kept) {
    for (Pod old : pods.of(key)) {
      String name = old.getMetadata().getName();
      if (name.equals(kept) || !retiring.add(name)) {
        continue;
      }
      log.info("client {}: Mount Pod {} is replaced by {}", key, name, kept);
      executor.execute(
          () -> {
            try {
              removal.discard(old);
            } catch (RuntimeException e) {
              log.warn(
                  "client {}: removing Mount Pod {} (replaced by {}) failed: {}",
                  key,
                  name,
                  kept,
                  e.toString());
            } finally {
              retiring.remove(name);
            }
          });
    }
  }

  // ---- stop --------------------------------------------------------------------------------

  /**
   * Stops a client: deletes its pod, waits until it is gone, unmounts its path, keeps its UUID for
   * a cache clean and deletes its Secret unless another pod reads it.
   */
  void stop(RunningClient running) {
    String name = running.handle();
    Optional<Pod> pod = removal.stop(name, running.mountPath());
    keeping.get().close(FusePassing.upgradeId(running.key()));
    caches.stopped(running.key());
    pod.flatMap(MountPodSecrets::secretOf)
        .ifPresent(secret -> secrets.deleteIfUnused(secret, name));
    log.info("stopped client {} (Mount Pod {})", running.key(), name);
  }
}

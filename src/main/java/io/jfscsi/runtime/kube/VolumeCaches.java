package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.DeletionPropagation;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The volume UUIDs of this node's clients and the removal of a stopped client's cache: JuiceFS
 * keeps a volume's cache blocks under its UUID, so the UUID of each running client is learnt (from
 * its pod's annotation, or the mount's {@code .config}), kept after the client stops, and a cache
 * that no running client of the same volume uses is removed by a {@link CacheCleanJob}.
 */
final class VolumeCaches {
  private static final Logger log = LoggerFactory.getLogger(VolumeCaches.class);
  private static final Pattern UUID = Pattern.compile("\"UUID\"\\s*:\\s*\"([0-9a-fA-F-]{36})\"");

  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final Executor executor;
  private final MountPodWatch pods;

  /** Volume UUIDs of running clients by key (a cache in use is never cleaned). */
  private final Map<ClientKey, String> uuids = new ConcurrentHashMap<>();

  /** Volume UUIDs of stopped clients, until their cache is cleaned. */
  private final Map<ClientKey, String> stoppedUuids = new ConcurrentHashMap<>();

  /**
   * The host cache directories of each client's pod as built (the global ConfigMap may have added
   * some or replaced the default), which a clean must empty; kept until the clean.
   */
  private final Map<ClientKey, List<Path>> hostDirs = new ConcurrentHashMap<>();

  VolumeCaches(
      KubeRuntimeConfig config, KubernetesClient client, Executor executor, MountPodWatch pods) {
    this.config = config;
    this.client = client;
    this.executor = executor;
    this.pods = pods;
  }

  /** The volume UUID of the running client {@code key}, if known. */
  Optional<String> uuid(ClientKey key) {
    return Optional.ofNullable(uuids.get(key));
  }

  /** The UUID a pod of client {@code key} recorded, unless one is known already. */
  void recorded(ClientKey key, String uuid) {
    uuids.putIfAbsent(key, uuid);
  }

  /**
   * Learns the UUID of the client {@code key} that runs in {@code pod}: from its annotation, or the
   * JuiceFS virtual file {@code .config} at the mount root (given two seconds).
   */
  void remember(ClientKey key, Pod pod, Path mountPath) {
    if (pod.getSpec() != null && pod.getSpec().getVolumes() != null) {
      hostDirs.put(
          key,
          pod.getSpec().getVolumes().stream()
              .filter(v -> v.getName().matches("cachedir-[0-9]+") && v.getHostPath() != null)
              .map(v -> Path.of(v.getHostPath().getPath()))
              .toList());
    }
    String known = PodReferences.annotations(pod).get(MountPodNames.UUID);
    if (known != null) {
      uuids.put(key, known);
      return;
    }
    CompletableFuture<Optional<String>> read =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                Matcher m = UUID.matcher(Files.readString(mountPath.resolve(".config")));
                return m.find() ? Optional.of(m.group(1)) : Optional.<String>empty();
              } catch (IOException | RuntimeException e) {
                return Optional.<String>empty();
              }
            },
            executor);
    try {
      read.get(2, TimeUnit.SECONDS).ifPresent(u -> uuids.put(key, u));
    } catch (Exception e) {
      log.debug("no UUID of client {}: {}", key, e.toString());
    }
  }

  /** The client {@code key} stopped: its UUID is kept for {@link #clean}. */
  void stopped(ClientKey key) {
    String uuid = uuids.remove(key);
    if (uuid != null) {
      stoppedUuids.put(key, uuid);
    }
  }

  /**
   * Removes the stopped client's cache with a Job on this node (its files belong to the host, which
   * the driver may not see), unless another Mount Pod of this node uses the same volume (UUID). The
   * Job is created here; it is awaited and deleted in the background.
   */
  void clean(ClientKey key, VolumeSettings settings) {
    String uuid = stoppedUuids.remove(key);
    if (uuid == null) {
      hostDirs.remove(key);
      log.warn(
          "cache of volume {} left in place: its UUID is not known (no .config at the mount)",
          settings.volumeId());
      return;
    }
    boolean shared =
        pods.all().stream()
                .anyMatch(
                    p ->
                        !MountPodWatch.ended(p)
                            && uuid.equals(PodReferences.annotations(p).get(MountPodNames.UUID)))
            || uuids.containsValue(uuid);
    if (shared) {
      log.info(
          "cache of volume {} left in place: another Mount Pod uses volume {}",
          settings.volumeId(),
          uuid);
      return;
    }
    String name =
        "jfs-clean-cache-"
            + MountPodNames.sha256(key.name()).substring(0, 12)
            + "-"
            + MountPodNames.randomSuffix();
    List<Path> dirs = hostDirs.remove(key);
    var job =
        CacheCleanJob.build(
            config,
            settings,
            uuid,
            name,
            dirs != null ? dirs : MountPodBuilder.caches(settings).hostDirs());
    try {
      client.batch().v1().jobs().inNamespace(config.namespace()).resource(job).create();
      log.info("cache of volume {} is being removed by Job {}", settings.volumeId(), name);
    } catch (KubernetesClientException e) {
      log.warn(
          "cannot create the cache clean Job of volume {}: {}",
          settings.volumeId(),
          e.getMessage());
      return;
    }
    executor.execute(() -> reapJob(name));
  }

  private void reapJob(String name) {
    var resource = client.batch().v1().jobs().inNamespace(config.namespace()).withName(name);
    try {
      resource.waitUntilCondition(
          j ->
              j == null
                  || j.getStatus() != null
                      && ((j.getStatus().getSucceeded() != null && j.getStatus().getSucceeded() > 0)
                          || (j.getStatus().getFailed() != null && j.getStatus().getFailed() > 2)),
          10,
          TimeUnit.MINUTES);
      var job = resource.get();
      if (job != null
          && job.getStatus() != null
          && job.getStatus().getSucceeded() != null
          && job.getStatus().getSucceeded() > 0) {
        resource.withPropagationPolicy(DeletionPropagation.BACKGROUND).delete();
      } else if (job != null) {
        log.warn("cache clean Job {} did not succeed; left for inspection", name);
      }
    } catch (RuntimeException e) {
      log.warn("cache clean Job {}: {}", name, e.getMessage());
    }
  }
}

package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.base.PatchContext;
import io.fabric8.kubernetes.client.dsl.base.PatchType;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.MountInfo;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The client records kept on the Mount Pods themselves: {@link #save} (a client that starts) and
 * {@link #record} (one change) write references, delayed exit and volume UUID as annotation patches
 * ({@link PodReferences}) that carry the resourceVersion they were computed from, retried on a
 * conflict; {@link #load} reads every record back from the informer cache, with the secret values
 * from the pods' Secrets (ours and the Go driver's, {@link GoMountPods}).
 */
final class MountPodRecords {
  private static final Logger log = LoggerFactory.getLogger(MountPodRecords.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubeRuntimeConfig config;
  private final KubernetesClient client;
  private final Executor executor;
  private final MountPodWatch pods;
  private final MountPodSecrets secrets;
  private final VolumeCaches caches;
  private final MountPodRemoval removal;

  MountPodRecords(
      KubeRuntimeConfig config,
      KubernetesClient client,
      Executor executor,
      MountPodWatch pods,
      MountPodSecrets secrets,
      VolumeCaches caches,
      MountPodRemoval removal) {
    this.config = config;
    this.client = client;
    this.executor = executor;
    this.pods = pods;
    this.secrets = secrets;
    this.caches = caches;
    this.removal = removal;
  }

  /**
   * Writes the whole record of a client that starts to its pod's annotations: what the pod lacks of
   * it (a new pod carries none of its references yet). See {@link #write}.
   */
  void save(ClientRecord record) {
    write(
        record.key(),
        record.running(),
        !record.targets().isEmpty(),
        annotations -> PodReferences.diff(annotations, record));
  }

  /** Writes one change of a record to its pod's annotations. See {@link #write}. */
  void record(RecordChange change) {
    write(
        change.key(),
        change.running(),
        change instanceof RecordChange.TargetAdded,
        annotations -> PodReferences.patch(annotations, change));
  }

  /**
   * Patches the annotations of the pod of {@code running}: only what {@code patchOf} finds to
   * change, as a merge patch that carries the resourceVersion it was computed from; a conflict
   * reads the pod again and retries. A pod being deleted takes no new reference.
   *
   * @param needsPod whether the write adds references, which a pod that is gone cannot take
   */
  private void write(
      ClientKey key,
      Optional<RunningClient> running,
      boolean needsPod,
      Function<Map<String, String>, Map<String, String>> patchOf) {
    if (running.isEmpty()) {
      return; // no pod to write to: the record lives in the actor until one runs
    }
    String name = running.get().handle();
    for (int attempt = 0; attempt < 8; attempt++) {
      Optional<Pod> current = pods.latest(name);
      if (current.isEmpty()) {
        if (needsPod) {
          throw new Failure(Failure.Code.UNAVAILABLE, "Mount Pod " + name + " is gone; retry");
        }
        return;
      }
      Pod pod = current.get();
      Map<String, String> annotations = PodReferences.annotations(pod);
      Map<String, String> patch = patchOf.apply(annotations);
      caches
          .uuid(key)
          .filter(uuid -> !uuid.equals(annotations.get(MountPodNames.UUID)))
          .ifPresent(uuid -> patch.put(MountPodNames.UUID, uuid));
      // The UUID alone waits for the first reference (a started client saves before it binds
      // any target): one PATCH for both. It is in memory meanwhile.
      if (patch.isEmpty()
          || patch.size() == 1
              && patch.containsKey(MountPodNames.UUID)
              && PodReferences.targets(annotations).isEmpty()) {
        return;
      }
      if (pod.getMetadata().getDeletionTimestamp() != null
          && PodReferences.addsReference(annotations, patch)) {
        throw new Failure(
            Failure.Code.UNAVAILABLE,
            "Mount Pod " + name + " is being deleted; a new one is started, retry");
      }
      ObjectNode body = JSON.createObjectNode();
      ObjectNode meta = body.putObject("metadata");
      meta.put("resourceVersion", pod.getMetadata().getResourceVersion());
      ObjectNode a = meta.putObject("annotations");
      patch.forEach(
          (k, v) -> {
            if (v == null) {
              a.putNull(k);
            } else {
              a.put(k, v);
            }
          });
      var resource = client.pods().inNamespace(config.namespace()).withName(name);
      try {
        // On the object itself: on a name alone, fabric8 would GET it first.
        pods.wrote(
            name,
            client
                .pods()
                .inNamespace(config.namespace())
                .resource(pod)
                .patch(PatchContext.of(PatchType.JSON_MERGE), body.toString()));
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() == 409) {
          Pod fresh = resource.get();
          if (fresh != null) {
            pods.wrote(name, fresh);
          } else {
            pods.forget(name);
          }
          continue;
        }
        if (e.getCode() == 404) {
          pods.forget(name);
          continue;
        }
        throw new Failure(
            Failure.Code.UNAVAILABLE,
            "cannot record the references of client "
                + key
                + " on Mount Pod "
                + name
                + ": "
                + e.getMessage(),
            e);
      }
    }
    throw new Failure(
        Failure.Code.ABORTED,
        "Mount Pod " + name + " kept changing while its " + "references were written; retry");
  }

  /**
   * The clients of this node's Mount Pods (ours and the Go driver's), from the informer cache once
   * synced; one Secret read per client whose secret values this process does not know. An ended pod
   * without references is discarded in the background.
   */
  List<ClientRecord> load() {
    pods.awaitSynced();
    Map<ClientKey, List<Pod>> byKey = new LinkedHashMap<>();
    Map<ClientKey, VolumeSource> sources = new HashMap<>();
    Map<String, Path> mountPaths = new HashMap<>();
    List<Pod> all = new ArrayList<>(pods.all());
    all.sort(MountPodWatch.NEWEST_FIRST);
    for (Pod pod : all) {
      String name = pod.getMetadata().getName();
      Map<String, String> annotations = PodReferences.annotations(pod);
      if (MountPodWatch.ended(pod) && PodReferences.targets(annotations).isEmpty()) {
        executor.execute(
            () -> removal.discard(pod)); // released, or cut short by a crash: finish it
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
            .ifPresent(u -> caches.recorded(resolved.get().key(), u));
      } catch (RuntimeException e) {
        log.error("Mount Pod {} cannot be read back: {}", name, e.getMessage());
      }
    }
    List<ClientRecord> records = new ArrayList<>();
    byKey.forEach(
        (key, list) -> {
          Pod chosen =
              list.stream()
                  .filter(p -> !MountPodWatch.ended(p))
                  .findFirst()
                  .orElse(list.getFirst());
          Set<String> targets = new LinkedHashSet<>();
          Set<String> readOnly = new LinkedHashSet<>();
          Map<String, TargetVolume> shared = new HashMap<>();
          for (Pod p : list) {
            targets.addAll(PodReferences.targets(PodReferences.annotations(p)));
            readOnly.addAll(PodReferences.readOnly(PodReferences.annotations(p)));
            PodReferences.sharedTargets(PodReferences.annotations(p)).forEach(shared::putIfAbsent);
          }
          if (GoMountPods.isGoPod(chosen)) {
            GoSharedTargets.of(targets, key.volumeId(), MountInfo.self())
                .forEach(shared::putIfAbsent);
          }
          readOnly.retainAll(targets);
          shared.keySet().retainAll(targets);
          Map<String, String> a = PodReferences.annotations(chosen);
          RunningClient running =
              new RunningClient(
                  key,
                  mountPaths.get(chosen.getMetadata().getName()),
                  chosen.getMetadata().getName(),
                  MountPodWatch.created(chosen));
          records.add(
              new ClientRecord(
                  key,
                  sources.get(key),
                  targets,
                  readOnly,
                  shared,
                  PodReferences.deleteAt(a),
                  Optional.of(running)));
        });
    log.info(
        "read {} clients back from {} Mount Pods on node {}",
        records.size(),
        all.size(),
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
      Optional<Map<String, String>> raw = secrets.values(source.get().secret());
      // The unique id: the volume's, or in a share mode the StorageClass or file system name.
      String uniqueId =
          Optional.ofNullable(a.get(MountPodNames.UNIQUE_ID))
              .filter(id -> !id.isEmpty())
              .orElse(source.get().volumeId());
      return raw.map(
          r ->
              new Resolved(
                  new ClientKey(uniqueId, hash), source.get().withSecrets(r), Path.of(path)));
    }
    Optional<String> secretName = GoMountPods.secretName(pod);
    Optional<Path> mountPath = GoMountPods.mountPath(pod);
    if (secretName.isEmpty() || mountPath.isEmpty()) {
      return Optional.empty();
    }
    Secret secret = secrets.read(secretName.get());
    if (secret == null) {
      return Optional.empty();
    }
    Optional<VolumeSource> source = GoMountPods.source(pod, secret);
    if (source.isEmpty()) {
      return Optional.empty();
    }
    ClientKey key =
        new ClientKey(source.get().volumeId(), SettingsParser.parse(source.get()).clientHash());
    pods.goPod(pod.getMetadata().getName(), key);
    log.info(
        "Mount Pod {} was made by the Go driver: adopted as client {}",
        pod.getMetadata().getName(),
        key);
    return Optional.of(new Resolved(key, source.get(), mountPath.get()));
  }
}

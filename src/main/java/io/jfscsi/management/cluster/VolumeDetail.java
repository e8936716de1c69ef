package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.doctor.FactsCollector;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodVolumes;
import io.jfscsi.runtime.kube.PodReferences;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * One volume in detail for the cluster page, read from the API when asked: its Mount Pods with
 * their references and restarts, its settings with Secrets shown as key names only, the Events of
 * the PV, the PVC and the Mount Pods, and the tail of a Mount Pod's client log (with the volume's
 * secret values masked). Blocking: a handful of GET and LIST calls.
 */
final class VolumeDetail {

  /** Lines of a client's log the page shows. */
  static final int LOG_LINES = 200;

  /** Events shown, the latest. */
  static final int EVENTS = 30;

  private final KubernetesClient client;
  private final String driver;

  VolumeDetail(KubernetesClient client, String driver) {
    this.client = client;
    this.driver = driver;
  }

  /** The detail of PV {@code name}, empty when there is no such PV of this driver. */
  Optional<Map<String, Object>> of(String name) {
    Optional<PersistentVolume> found = volume(name);
    if (found.isEmpty()) {
      return Optional.empty();
    }
    PersistentVolume pv = found.get();
    var csi = pv.getSpec().getCsi();
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("pv", name);
    d.put("volumeHandle", csi.getVolumeHandle());
    d.put("phase", Optional.ofNullable(pv.getStatus()).map(s -> s.getPhase()).orElse(null));
    d.put(
        "capacity",
        Optional.ofNullable(pv.getSpec().getCapacity())
            .map(c -> c.get("storage"))
            .map(Object::toString)
            .orElse(null));
    d.put("reclaimPolicy", pv.getSpec().getPersistentVolumeReclaimPolicy());
    d.put("storageClass", pv.getSpec().getStorageClassName());
    Optional<PersistentVolumeClaim> claim =
        Optional.ofNullable(pv.getSpec().getClaimRef())
            .map(
                r ->
                    client
                        .persistentVolumeClaims()
                        .inNamespace(r.getNamespace())
                        .withName(r.getName())
                        .get());
    d.put("claim", claim.map(ClusterPicture::ref).orElse(null));
    d.put(
        "claimPhase",
        claim.map(c -> c.getStatus() == null ? null : c.getStatus().getPhase()).orElse(null));
    Map<String, Object> settings = new LinkedHashMap<>();
    // Volume context values are not secret (docs/configuration.md); Secrets are named, not shown.
    settings.put(
        "volumeAttributes",
        new TreeMap<>(Optional.ofNullable(csi.getVolumeAttributes()).orElse(Map.of())));
    settings.put(
        "mountOptions", Optional.ofNullable(pv.getSpec().getMountOptions()).orElse(List.of()));
    List<Map<String, Object>> secrets = new ArrayList<>();
    Optional.ofNullable(csi.getNodePublishSecretRef())
        .ifPresent(r -> secrets.add(secretKeys("nodePublishSecretRef", r)));
    Optional.ofNullable(csi.getControllerExpandSecretRef())
        .ifPresent(r -> secrets.add(secretKeys("controllerExpandSecretRef", r)));
    settings.put("secrets", secrets);
    Optional.ofNullable(pv.getSpec().getStorageClassName())
        .filter(n -> !n.isEmpty())
        .map(n -> client.storage().v1().storageClasses().withName(n).get())
        .map(VolumeDetail::storageClass)
        .ifPresent(sc -> settings.put("storageClassSettings", sc));
    d.put("settings", settings);
    List<Pod> mountPods = mountPods(csi.getVolumeHandle());
    d.put("mountPods", mountPods.stream().map(VolumeDetail::mountPod).toList());
    List<Event> events = new ArrayList<>();
    events.addAll(events(null, "PersistentVolume", name));
    claim.ifPresent(
        c ->
            events.addAll(
                events(
                    c.getMetadata().getNamespace(),
                    "PersistentVolumeClaim",
                    c.getMetadata().getName())));
    for (Pod mp : mountPods) {
      events.addAll(events(mp.getMetadata().getNamespace(), "Pod", mp.getMetadata().getName()));
    }
    List<Map<String, Object>> listed =
        events.stream()
            .sorted(Comparator.comparing(FactsCollector::when))
            .map(Diagnoses::event)
            .toList();
    d.put("events", listed.subList(Math.max(0, listed.size() - EVENTS), listed.size()));
    return Optional.of(d);
  }

  /**
   * The last lines of the client's log in Mount Pod {@code namespace/pod} of PV {@code name}, with
   * the volume's secret values masked; empty when that pod is no Mount Pod of that volume. {@code
   * previous}: the log of the client before its last restart.
   */
  Optional<String> log(String name, String namespace, String pod, boolean previous) {
    Optional<PersistentVolume> pv = volume(name);
    if (pv.isEmpty()) {
      return Optional.empty();
    }
    var csi = pv.get().getSpec().getCsi();
    Optional<Pod> mountPod =
        mountPods(csi.getVolumeHandle()).stream()
            .filter(
                p ->
                    p.getMetadata().getNamespace().equals(namespace)
                        && p.getMetadata().getName().equals(pod))
            .findFirst();
    if (mountPod.isEmpty()) {
      return Optional.empty();
    }
    var container =
        client.pods().inNamespace(namespace).withName(pod).inContainer(MountPodNames.CONTAINER);
    String text =
        previous
            ? container.terminated().tailingLines(LOG_LINES).getLog()
            : container.tailingLines(LOG_LINES).getLog();
    Map<String, String> secretValues =
        Optional.ofNullable(csi.getNodePublishSecretRef())
            .map(r -> secretData(r.getNamespace(), r.getName()))
            .orElse(Map.of());
    return Optional.of(Redactor.forSecrets(secretValues).redact(text == null ? "" : text));
  }

  private Optional<PersistentVolume> volume(String name) {
    return Optional.ofNullable(client.persistentVolumes().withName(name).get())
        .filter(
            pv ->
                pv.getSpec().getCsi() != null && driver.equals(pv.getSpec().getCsi().getDriver()));
  }

  /** Its Mount Pods: labelled by it, or, in a share mode, shared with other volumes. */
  private List<Pod> mountPods(String handle) {
    return client
        .pods()
        .inAnyNamespace()
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .list()
        .getItems()
        .stream()
        .filter(mp -> MountPodVolumes.serves(mp, handle))
        .sorted(Comparator.comparing(ClusterPicture::ref))
        .toList();
  }

  private static Map<String, Object> mountPod(Pod pod) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("pod", ClusterPicture.ref(pod));
    p.put("namespace", pod.getMetadata().getNamespace());
    p.put("name", pod.getMetadata().getName());
    p.put("node", pod.getSpec().getNodeName());
    p.put("phase", Optional.ofNullable(pod.getStatus()).map(s -> s.getPhase()).orElse(null));
    p.put("ready", ClusterPicture.ready(pod));
    List<ContainerStatus> statuses = ClusterPicture.statuses(pod);
    p.put("restarts", ClusterPicture.restarts(statuses));
    p.put(
        "image",
        pod.getSpec().getContainers().isEmpty()
            ? null
            : pod.getSpec().getContainers().getFirst().getImage());
    statuses.stream()
        .filter(s -> s.getLastState() != null && s.getLastState().getTerminated() != null)
        .map(s -> s.getLastState().getTerminated())
        .findFirst()
        .ifPresent(
            t -> {
              Map<String, Object> last = new LinkedHashMap<>();
              last.put("exitCode", t.getExitCode());
              last.put("reason", t.getReason());
              last.put("finishedAt", t.getFinishedAt());
              p.put("lastTermination", last);
            });
    Map<String, String> annotations =
        Optional.ofNullable(pod.getMetadata().getAnnotations()).orElse(Map.of());
    p.put("references", PodReferences.targets(annotations).stream().sorted().toList());
    p.put("deleteAt", annotations.get(MountPodNames.DELETE_AT));
    p.put("terminating", pod.getMetadata().getDeletionTimestamp() != null);
    return p;
  }

  private static Map<String, Object> storageClass(StorageClass sc) {
    Map<String, Object> c = new LinkedHashMap<>();
    c.put("name", sc.getMetadata().getName());
    c.put("parameters", new TreeMap<>(Optional.ofNullable(sc.getParameters()).orElse(Map.of())));
    c.put("mountOptions", Optional.ofNullable(sc.getMountOptions()).orElse(List.of()));
    return c;
  }

  /** A Secret by reference: its key names, never its values. */
  private Map<String, Object> secretKeys(String role, SecretReference ref) {
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("role", role);
    s.put("secret", ref.getNamespace() + "/" + ref.getName());
    Secret secret = client.secrets().inNamespace(ref.getNamespace()).withName(ref.getName()).get();
    s.put("exists", secret != null);
    TreeSet<String> keys = new TreeSet<>();
    if (secret != null) {
      Optional.ofNullable(secret.getData()).ifPresent(m -> keys.addAll(m.keySet()));
      Optional.ofNullable(secret.getStringData()).ifPresent(m -> keys.addAll(m.keySet()));
    }
    s.put("keys", List.copyOf(keys));
    return s;
  }

  private Map<String, String> secretData(String namespace, String name) {
    return Optional.ofNullable(client.secrets().inNamespace(namespace).withName(name).get())
        .map(FactsCollector::values)
        .orElse(Map.of());
  }

  private List<Event> events(String namespace, String kind, String name) {
    var events = client.v1().events();
    var scoped = namespace == null ? events.inAnyNamespace() : events.inNamespace(namespace);
    return scoped
        .withField("involvedObject.kind", kind)
        .withField("involvedObject.name", name)
        .list()
        .getItems();
  }
}

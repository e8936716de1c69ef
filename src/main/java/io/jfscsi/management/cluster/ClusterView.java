package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodVolumes;
import io.jfscsi.runtime.kube.PodReferences;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import tools.jackson.databind.json.JsonMapper;

/**
 * The controller's picture of the cluster for {@code GET /cluster}: the StorageClasses and PVs of
 * this driver, the PVC bound to each PV, the app pods that use it and the Mount Pods that serve it.
 * Read from the API on each request (a management route, not a hot path); Secret contents are never
 * read.
 */
public final class ClusterView {

  private final KubernetesClient client;
  private final String driverName;

  public ClusterView(KubernetesClient client, String driverName) {
    this.client = client;
    this.driverName = driverName;
  }

  /** The view as JSON. Blocking: a few LIST calls. */
  public String json() {
    return JsonMapper.builder().build().writeValueAsString(read());
  }

  /** The view as maps and lists (what {@link #json} writes). Blocking: a few LIST calls. */
  public Map<String, Object> read() {
    List<Map<String, Object>> classes = new ArrayList<>();
    for (var sc : client.storage().v1().storageClasses().list().getItems()) {
      if (driverName.equals(sc.getProvisioner())) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("name", sc.getMetadata().getName());
        c.put("reclaimPolicy", sc.getReclaimPolicy());
        c.put("parameters", Optional.ofNullable(sc.getParameters()).orElse(Map.of()));
        c.put("mountOptions", Optional.ofNullable(sc.getMountOptions()).orElse(List.of()));
        classes.add(c);
      }
    }
    List<PersistentVolume> pvs =
        client.persistentVolumes().list().getItems().stream()
            .filter(
                pv ->
                    pv.getSpec().getCsi() != null
                        && driverName.equals(pv.getSpec().getCsi().getDriver()))
            .toList();
    List<Pod> mountPods =
        client
            .pods()
            .inAnyNamespace()
            .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
            .list()
            .getItems();
    Set<String> claimNamespaces = new TreeSet<>();
    pvs.forEach(
        pv ->
            Optional.ofNullable(pv.getSpec().getClaimRef())
                .ifPresent(ref -> claimNamespaces.add(ref.getNamespace())));
    Map<String, PersistentVolumeClaim> claims = new LinkedHashMap<>();
    Map<String, List<Pod>> podsByClaim = new LinkedHashMap<>();
    for (String ns : claimNamespaces) {
      client
          .persistentVolumeClaims()
          .inNamespace(ns)
          .list()
          .getItems()
          .forEach(c -> claims.put(ns + "/" + c.getMetadata().getName(), c));
      for (Pod pod : client.pods().inNamespace(ns).list().getItems()) {
        pod.getSpec().getVolumes().stream()
            .filter(v -> v.getPersistentVolumeClaim() != null)
            .forEach(
                v ->
                    podsByClaim
                        .computeIfAbsent(
                            ns + "/" + v.getPersistentVolumeClaim().getClaimName(),
                            k -> new ArrayList<>())
                        .add(pod));
      }
    }
    List<Map<String, Object>> volumes = new ArrayList<>();
    for (PersistentVolume pv : pvs) {
      String handle = pv.getSpec().getCsi().getVolumeHandle();
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("pv", pv.getMetadata().getName());
      v.put("volumeHandle", handle);
      v.put("phase", pv.getStatus() == null ? null : pv.getStatus().getPhase());
      v.put("storageClass", pv.getSpec().getStorageClassName());
      v.put("reclaimPolicy", pv.getSpec().getPersistentVolumeReclaimPolicy());
      v.put(
          "subPath",
          Optional.ofNullable(pv.getSpec().getCsi().getVolumeAttributes())
              .map(a -> a.get("subPath"))
              .orElse(null));
      String claim =
          pv.getSpec().getClaimRef() == null
              ? null
              : pv.getSpec().getClaimRef().getNamespace()
                  + "/"
                  + pv.getSpec().getClaimRef().getName();
      v.put("claim", claim);
      v.put(
          "claimPhase",
          Optional.ofNullable(claims.get(claim))
              .map(c -> c.getStatus() == null ? null : c.getStatus().getPhase())
              .orElse(null));
      v.put(
          "pods",
          podsByClaim.getOrDefault(claim, List.of()).stream().map(ClusterView::appPod).toList());
      v.put(
          "mountPods",
          mountPods.stream()
              .filter(mp -> MountPodVolumes.serves(mp, handle))
              .map(ClusterView::mountPod)
              .toList());
      volumes.add(v);
    }
    Map<String, Object> view = new LinkedHashMap<>();
    view.put("driver", driverName);
    view.put("storageClasses", classes);
    view.put("volumes", volumes);
    view.put("mountPods", mountPods.stream().map(ClusterView::mountPod).toList());
    return view;
  }

  private static Map<String, Object> appPod(Pod pod) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("pod", ClusterPicture.ref(pod));
    p.put("node", pod.getSpec().getNodeName());
    p.put("phase", pod.getStatus() == null ? null : pod.getStatus().getPhase());
    return p;
  }

  private static Map<String, Object> mountPod(Pod pod) {
    Map<String, Object> p = appPod(pod);
    p.put("volumeId", pod.getMetadata().getLabels().get(MountPodNames.VOLUME_ID_LABEL));
    // In a share mode the id is a StorageClass or file system: say so, and which volumes it serves.
    p.put("shared", MountPodVolumes.sharedFrom(pod).isPresent());
    p.put("volumes", List.copyOf(MountPodVolumes.volumeIds(pod)));
    p.put("ready", ClusterPicture.ready(pod));
    p.put("restarts", ClusterPicture.restarts(ClusterPicture.statuses(pod)));
    Map<String, String> annotations =
        Optional.ofNullable(pod.getMetadata().getAnnotations()).orElse(Map.of());
    p.put("references", PodReferences.targets(annotations).stream().sorted().toList());
    p.put("deleteAt", annotations.get(MountPodNames.DELETE_AT));
    p.put("deleting", pod.getMetadata().getDeletionTimestamp() != null);
    return p;
  }
}

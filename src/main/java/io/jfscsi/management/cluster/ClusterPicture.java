package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.jfscsi.management.cluster.ClusterProblems.DoctorSubject;
import io.jfscsi.management.cluster.ClusterProblems.Problem;
import io.jfscsi.management.cluster.NodeReports.NodeReport;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodVolumes;
import io.jfscsi.runtime.kube.PodReferences;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * One snapshot of the cluster as the cluster page shows it: the driver's StorageClasses, volumes,
 * claims, app pods, Mount Pods and node plugins, grouped per node, and what is unhealthy right now
 * (the rules are {@link ClusterProblems}'). Pure: everything comes in {@link Sources}; the doctor's
 * verdicts come through a function so that the rules can be tested without an API server.
 */
final class ClusterPicture {

  /** What the picture is made of. {@code reports} by node name. */
  record Sources(
      String driver,
      List<StorageClass> classes,
      List<PersistentVolume> volumes,
      List<PersistentVolumeClaim> claims,
      List<Pod> pods,
      Map<String, NodeReport> reports,
      Instant now) {}

  final Sources in;
  final Set<String> classes;
  final List<PersistentVolume> volumes;
  final Map<String, PersistentVolume> volumeByClaim = new LinkedHashMap<>();
  final Map<String, PersistentVolumeClaim> claims = new LinkedHashMap<>();
  final List<Pod> mountPods = new ArrayList<>();
  final List<Pod> plugins = new ArrayList<>();
  final List<Pod> appPods = new ArrayList<>();

  private ClusterPicture(Sources in) {
    this.in = in;
    this.classes =
        in.classes().stream()
            .filter(sc -> in.driver().equals(sc.getProvisioner()))
            .map(sc -> sc.getMetadata().getName())
            .collect(Collectors.toCollection(TreeSet::new));
    this.volumes =
        in.volumes().stream()
            .filter(
                pv ->
                    pv.getSpec().getCsi() != null
                        && in.driver().equals(pv.getSpec().getCsi().getDriver()))
            .sorted(Comparator.comparing(pv -> pv.getMetadata().getName()))
            .toList();
    for (PersistentVolume pv : volumes) {
      Optional.ofNullable(pv.getSpec().getClaimRef())
          .ifPresent(ref -> volumeByClaim.put(ref.getNamespace() + "/" + ref.getName(), pv));
    }
    for (PersistentVolumeClaim c : in.claims()) {
      String key = ref(c);
      boolean ours =
          volumeByClaim.containsKey(key)
              || classes.contains(Objects.toString(c.getSpec().getStorageClassName(), ""));
      if (ours) {
        claims.put(key, c);
      }
    }
    for (Pod pod : in.pods()) {
      Map<String, String> labels =
          Optional.ofNullable(pod.getMetadata().getLabels()).orElse(Map.of());
      if (MountPodNames.APP.equals(labels.get(MountPodNames.APP_LABEL))) {
        if (!servesAnotherDriver(pod)) {
          mountPods.add(pod);
        }
      } else if (NodeReports.isNodePlugin(pod)) {
        plugins.add(pod);
      } else if (!claimsOf(pod).isEmpty()) {
        appPods.add(pod);
      }
    }
  }

  /**
   * A Mount Pod of a PV another driver name serves (a second installation under another name) is
   * not this driver's; one whose PV is gone is, and is shown.
   */
  private boolean servesAnotherDriver(Pod mountPod) {
    Optional<String> label = label(mountPod, MountPodNames.VOLUME_ID_LABEL);
    return label.isPresent()
        && volumeOfMountPod(mountPod).isEmpty()
        && in.volumes().stream()
            .anyMatch(
                pv ->
                    pv.getSpec().getCsi() != null
                        && MountPodNames.volumeLabel(pv.getSpec().getCsi().getVolumeHandle())
                            .equals(label.get()));
  }

  /** The picture as maps and lists for JSON; verdicts and events from {@code doctor}. */
  static Map<String, Object> of(
      Sources in, Function<Problem, Optional<Map<String, Object>>> doctor) {
    return new ClusterPicture(in).build(doctor);
  }

  /** The problems alone, in the order the page lists them (tests read these). */
  static List<Problem> problems(Sources in) {
    return new ClusterProblems(new ClusterPicture(in)).find();
  }

  private Map<String, Object> build(Function<Problem, Optional<Map<String, Object>>> doctor) {
    List<Problem> problems = new ClusterProblems(this).find();
    Map<String, Object> view = new LinkedHashMap<>();
    view.put("driver", in.driver());
    view.put("generatedAt", in.now().toString());
    List<Map<String, Object>> listed = new ArrayList<>();
    for (Problem p : problems) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("severity", p.severity());
      m.put("kind", p.kind());
      m.put("node", p.node());
      m.put("volume", p.volume());
      m.put("what", p.what());
      m.put("subject", p.subject().map(DoctorSubject::toString).orElse(null));
      m.put("diagnosis", p.subject().isPresent() ? doctor.apply(p).orElse(null) : null);
      listed.add(m);
    }
    view.put("problems", listed);
    view.put("nodes", nodes(problems));
    view.put("volumes", volumes(problems));
    view.put("pendingClaims", pendingClaims());
    view.put("storageClasses", storageClasses());
    return view;
  }

  private List<Map<String, Object>> nodes(List<Problem> problems) {
    Set<String> names = new TreeSet<>(in.reports().keySet());
    mountPods.forEach(p -> Optional.ofNullable(p.getSpec().getNodeName()).ifPresent(names::add));
    appPods.forEach(p -> Optional.ofNullable(p.getSpec().getNodeName()).ifPresent(names::add));
    plugins.forEach(p -> Optional.ofNullable(p.getSpec().getNodeName()).ifPresent(names::add));
    List<Map<String, Object>> out = new ArrayList<>();
    for (String name : names) {
      Map<String, Object> node = new LinkedHashMap<>();
      node.put("name", name);
      Optional<Pod> plugin =
          plugins.stream().filter(p -> name.equals(p.getSpec().getNodeName())).findFirst();
      node.put("plugin", plugin.map(ClusterPicture::ref).orElse(null));
      node.put("pluginReady", plugin.map(ClusterPicture::ready).orElse(false));
      NodeReport report = in.reports().get(name);
      node.put("page", report == null ? null : report.page());
      node.put("reported", report != null && report.error().isEmpty());
      node.put("clients", report == null ? List.of() : report.clients());
      node.put(
          "mountPods",
          mountPods.stream()
              .filter(p -> name.equals(p.getSpec().getNodeName()))
              .sorted(Comparator.comparing(ClusterPicture::ref))
              .map(this::mountPod)
              .toList());
      node.put(
          "pods",
          appPods.stream()
              .filter(p -> name.equals(p.getSpec().getNodeName()))
              .sorted(Comparator.comparing(ClusterPicture::ref))
              .map(this::appPod)
              .toList());
      node.put("problems", problems.stream().filter(p -> name.equals(p.node())).count());
      out.add(node);
    }
    return out;
  }

  private List<Map<String, Object>> volumes(List<Problem> problems) {
    List<Map<String, Object>> out = new ArrayList<>();
    for (PersistentVolume pv : volumes) {
      String name = pv.getMetadata().getName();
      Map<String, Object> v = new LinkedHashMap<>();
      v.put("pv", name);
      v.put("volumeHandle", pv.getSpec().getCsi().getVolumeHandle());
      v.put("phase", Optional.ofNullable(pv.getStatus()).map(s -> s.getPhase()).orElse(null));
      v.put("storageClass", pv.getSpec().getStorageClassName());
      String claim =
          Optional.ofNullable(pv.getSpec().getClaimRef())
              .map(r -> r.getNamespace() + "/" + r.getName())
              .orElse(null);
      v.put("claim", claim);
      v.put(
          "claimPhase",
          Optional.ofNullable(claims.get(claim))
              .map(c -> c.getStatus() == null ? null : c.getStatus().getPhase())
              .orElse(null));
      v.put(
          "pods",
          appPods.stream()
              .filter(p -> claim != null && claimsOf(p).contains(claim))
              .sorted(Comparator.comparing(ClusterPicture::ref))
              .map(this::appPod)
              .toList());
      v.put(
          "mountPods",
          mountPods.stream()
              .filter(mp -> volumesOfMountPod(mp).contains(pv))
              .sorted(Comparator.comparing(ClusterPicture::ref))
              .map(this::mountPod)
              .toList());
      v.put("problems", problems.stream().filter(p -> name.equals(p.volume())).count());
      out.add(v);
    }
    return out;
  }

  private List<Map<String, Object>> pendingClaims() {
    return claims.values().stream()
        .filter(c -> c.getStatus() == null || !"Bound".equals(c.getStatus().getPhase()))
        .map(
            c -> {
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("claim", ref(c));
              m.put("storageClass", c.getSpec().getStorageClassName());
              m.put("phase", c.getStatus() == null ? "Pending" : c.getStatus().getPhase());
              m.put("since", c.getMetadata().getCreationTimestamp());
              return m;
            })
        .toList();
  }

  private List<Map<String, Object>> storageClasses() {
    return in.classes().stream()
        .filter(sc -> classes.contains(sc.getMetadata().getName()))
        .sorted(Comparator.comparing(sc -> sc.getMetadata().getName()))
        .map(
            sc -> {
              Map<String, Object> c = new LinkedHashMap<>();
              c.put("name", sc.getMetadata().getName());
              c.put("reclaimPolicy", sc.getReclaimPolicy());
              // Parameters name Secrets, never hold their values.
              c.put(
                  "parameters",
                  new TreeMap<>(Optional.ofNullable(sc.getParameters()).orElse(Map.of())));
              c.put("mountOptions", Optional.ofNullable(sc.getMountOptions()).orElse(List.of()));
              return c;
            })
        .toList();
  }

  private Map<String, Object> appPod(Pod pod) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("pod", ref(pod));
    p.put("node", pod.getSpec().getNodeName());
    p.put("phase", Optional.ofNullable(pod.getStatus()).map(s -> s.getPhase()).orElse(null));
    p.put("ready", ready(pod));
    p.put(
        "volumes",
        claimsOf(pod).stream()
            .map(volumeByClaim::get)
            .filter(Objects::nonNull)
            .map(v -> v.getMetadata().getName())
            .toList());
    return p;
  }

  private Map<String, Object> mountPod(Pod pod) {
    Map<String, Object> p = new LinkedHashMap<>();
    p.put("pod", ref(pod));
    p.put("node", pod.getSpec().getNodeName());
    p.put("volume", volumeOfMountPod(pod).map(v -> v.getMetadata().getName()).orElse(null));
    // In a share mode one Mount Pod serves several volumes under a StorageClass or fs name.
    MountPodVolumes.sharedFrom(pod)
        .ifPresent(
            from -> {
              p.put("sharedAs", MountPodVolumes.uniqueId(pod).orElse(null));
              p.put(
                  "volumes",
                  volumesOfMountPod(pod).stream().map(v -> v.getMetadata().getName()).toList());
            });
    p.put("phase", Optional.ofNullable(pod.getStatus()).map(s -> s.getPhase()).orElse(null));
    p.put("ready", ready(pod));
    p.put("restarts", restarts(statuses(pod)));
    Map<String, String> annotations =
        Optional.ofNullable(pod.getMetadata().getAnnotations()).orElse(Map.of());
    p.put("references", PodReferences.targets(annotations).size());
    p.put("deleteAt", annotations.get(MountPodNames.DELETE_AT));
    p.put("terminating", pod.getMetadata().getDeletionTimestamp() != null);
    return p;
  }

  /**
   * The PV a Mount Pod serves; for a pod shared by several volumes (a share mode), the first of
   * them.
   */
  Optional<PersistentVolume> volumeOfMountPod(Pod mp) {
    return volumesOfMountPod(mp).stream().findFirst();
  }

  /** Every PV a Mount Pod serves: one, or in a share mode those of its references. */
  List<PersistentVolume> volumesOfMountPod(Pod mp) {
    if (MountPodVolumes.sharedFrom(mp).isPresent()) {
      Set<String> ids = MountPodVolumes.volumeIds(mp);
      return volumes.stream()
          .filter(pv -> ids.contains(pv.getSpec().getCsi().getVolumeHandle()))
          .toList();
    }
    return labelledVolume(mp).stream().toList();
  }

  private Optional<PersistentVolume> labelledVolume(Pod mp) {
    Optional<String> label = label(mp, MountPodNames.VOLUME_ID_LABEL);
    return label.flatMap(
        l ->
            volumes.stream()
                .filter(
                    pv ->
                        MountPodNames.volumeLabel(pv.getSpec().getCsi().getVolumeHandle())
                            .equals(l))
                .findFirst());
  }

  Optional<PersistentVolume> volumeByHandle(String handle) {
    return volumes.stream()
        .filter(pv -> handle.equals(pv.getSpec().getCsi().getVolumeHandle()))
        .findFirst();
  }

  Optional<DoctorSubject> claimSubject(PersistentVolume pv) {
    return Optional.ofNullable(pv.getSpec().getClaimRef())
        .map(r -> new DoctorSubject(false, r.getNamespace(), r.getName()));
  }

  /** The claims (ns/name) of the pod's PVC volumes that are this driver's. */
  List<String> claimsOf(Pod pod) {
    if (pod.getSpec() == null || pod.getSpec().getVolumes() == null) {
      return List.of();
    }
    String ns = pod.getMetadata().getNamespace();
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getPersistentVolumeClaim() != null)
        .map(v -> ns + "/" + v.getPersistentVolumeClaim().getClaimName())
        .filter(claims::containsKey)
        .toList();
  }

  static Optional<Instant> instant(String timestamp) {
    if (timestamp == null) {
      return Optional.empty();
    }
    try {
      return Optional.of(Instant.parse(timestamp));
    } catch (DateTimeParseException e) {
      return Optional.empty();
    }
  }

  static Optional<String> label(Pod pod, String key) {
    return Optional.ofNullable(pod.getMetadata().getLabels()).map(l -> l.get(key));
  }

  static List<ContainerStatus> statuses(Pod pod) {
    return pod.getStatus() == null || pod.getStatus().getContainerStatuses() == null
        ? List.of()
        : pod.getStatus().getContainerStatuses();
  }

  static int restarts(List<ContainerStatus> statuses) {
    return statuses.stream()
        .mapToInt(s -> Optional.ofNullable(s.getRestartCount()).orElse(0))
        .sum();
  }

  static boolean ready(Pod pod) {
    List<ContainerStatus> statuses = statuses(pod);
    return !statuses.isEmpty()
        && statuses.stream().allMatch(s -> Boolean.TRUE.equals(s.getReady()));
  }

  static String ref(Pod pod) {
    return pod.getMetadata().getNamespace() + "/" + pod.getMetadata().getName();
  }

  static String ref(PersistentVolumeClaim c) {
    return c.getMetadata().getNamespace() + "/" + c.getMetadata().getName();
  }
}

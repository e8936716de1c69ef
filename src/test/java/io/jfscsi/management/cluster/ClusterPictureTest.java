package io.jfscsi.management.cluster;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.tuple;

import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.jfscsi.management.cluster.ClusterPicture.Sources;
import io.jfscsi.management.cluster.ClusterProblems.DoctorSubject;
import io.jfscsi.management.cluster.ClusterProblems.Problem;
import io.jfscsi.management.cluster.NodeReports.NodeReport;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodVolumes;
import io.jfscsi.runtime.kube.PodSource;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/** The cluster page's rules for "unhealthy now", and its grouping per node, on staged objects. */
class ClusterPictureTest {
  static final String DRIVER = "csi.juicefs.com";
  static final Instant NOW = Instant.parse("2026-12-07T08:00:00Z");
  static final String LONG_AGO = "2026-12-07T07:50:00Z";
  static final String JUST_NOW = "2026-12-07T07:59:55Z";

  final List<StorageClass> classes = new ArrayList<>(List.of(sc("juicefs-sc", DRIVER)));
  final List<PersistentVolume> volumes = new ArrayList<>(List.of(pv("pvc-1", "default", "data")));
  final List<PersistentVolumeClaim> claims =
      new ArrayList<>(List.of(claim("data", "juicefs-sc", "Bound", LONG_AGO)));
  final List<Pod> pods = new ArrayList<>();
  final Map<String, NodeReport> reports = new TreeMap<>();

  Sources sources() {
    return new Sources(DRIVER, classes, volumes, claims, pods, reports, NOW);
  }

  List<String> kinds() {
    return ClusterPicture.problems(sources()).stream().map(Problem::kind).toList();
  }

  @Test
  void a_running_pod_on_a_ready_mount_pod_is_healthy_and_grouped_under_its_node() {
    pods.add(app("web", "n1", "Running", true, LONG_AGO, null));
    pods.add(mountPod("juicefs-n1-pvc-1-abcdef", "n1", "pvc-1", true, 0, null, null));
    pods.add(plugin("n1"));
    reports.put("n1", report(List.of(client("pvc-1", "READY"))));
    reports.put("n2", report(List.of()));

    assertThat(kinds()).isEmpty();
    Map<String, Object> picture = ClusterPicture.of(sources(), p -> Optional.empty());
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> nodes = (List<Map<String, Object>>) picture.get("nodes");
    assertThat(nodes).extracting(n -> n.get("name")).containsExactly("n1", "n2");
    Map<String, Object> n1 = nodes.getFirst();
    assertThat(n1.get("plugin")).isEqualTo("jfs-csi/jfs-csi-node-n1");
    assertThat((List<?>) n1.get("pods")).hasSize(1);
    assertThat(n1.get("mountPods").toString())
        .contains("default/juicefs-n1-pvc-1-abcdef", "volume=pvc-1", "references=1");
    assertThat(n1.get("page")).isEqualTo("http://10.0.0.1:9560/");
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> listed = (List<Map<String, Object>>) picture.get("volumes");
    assertThat(listed.getFirst()).containsEntry("pv", "pvc-1").containsEntry("problems", 0L);
  }

  @Test
  void a_pod_pending_past_the_grace_is_unhealthy_and_asks_the_doctor_about_the_pod() {
    pods.add(app("fresh", "n1", "Pending", false, JUST_NOW, "ContainerCreating"));
    assertThat(kinds()).as("a pod that started seconds ago is not a problem yet").isEmpty();

    pods.add(app("stuck", "n1", "Pending", false, LONG_AGO, "ContainerCreating"));
    List<Problem> problems = ClusterPicture.problems(sources());
    assertThat(problems).hasSize(1);
    Problem p = problems.getFirst();
    assertThat(p.kind()).isEqualTo("pod-not-starting");
    assertThat(p.what()).contains("pod default/stuck is ContainerCreating");
    assertThat(p.volume()).isEqualTo("pvc-1");
    assertThat(p.subject()).contains(new DoctorSubject(true, "default", "stuck"));

    Map<String, Object> picture =
        ClusterPicture.of(
            sources(), q -> Optional.of(Map.of("side", "pod not starting (node side)")));
    assertThat(picture.get("problems").toString()).contains("pod not starting (node side)");
  }

  @Test
  void a_mount_pod_in_crash_loop_or_restarted_lately_or_not_ready_is_named() {
    pods.add(mountPod("loop", "n1", "pvc-1", false, 4, "CrashLoopBackOff", null));
    pods.add(mountPod("restarted", "n1", "pvc-1", true, 1, null, "2026-12-07T07:58:00Z"));
    pods.add(mountPod("restarted-long-ago", "n1", "pvc-1", true, 1, null, "2026-12-07T06:00:00Z"));
    pods.add(mountPod("not-ready", "n1", "pvc-1", false, 0, null, null));
    List<Problem> problems = ClusterPicture.problems(sources());
    assertThat(problems)
        .extracting(Problem::kind, Problem::severity)
        .containsExactly(
            tuple("mount-pod-not-ready", "critical"),
            tuple("mount-pod-restarting", "critical"),
            tuple("mount-pod-restarted", "warning"));
    assertThat(problems.get(1).what()).contains("CrashLoopBackOff", "4 restarts");
    assertThat(problems.get(2).what()).contains("restarted 1 time", "exit code 137");
    assertThat(problems)
        .allSatisfy(
            p -> assertThat(p.subject()).contains(new DoctorSubject(false, "default", "data")));
  }

  @Test
  void a_client_a_node_reports_broken_is_a_stale_mount_and_a_silent_node_a_warning() {
    pods.add(plugin("n1"));
    reports.put("n1", report(List.of(client("pvc-1", "BROKEN"), client("other", "READY"))));
    reports.put(
        "n2",
        new NodeReport(
            "http://10.0.0.2:9560/clients",
            "http://10.0.0.2:9560/",
            List.of(),
            Optional.of("Connection refused")));
    List<Problem> problems = ClusterPicture.problems(sources());
    assertThat(problems)
        .extracting(Problem::kind)
        .containsExactly("stale-mount", "node-plugin-unreachable");
    assertThat(problems.getFirst().what())
        .contains("node n1 reports the client of volume pvc-1 BROKEN", "its 1 mount is stale");
    assertThat(problems.getFirst().volume()).isEqualTo("pvc-1");
    assertThat(problems.get(1).what()).contains("Connection refused");
  }

  @Test
  void a_claim_of_our_class_unbound_past_the_grace_is_unhealthy_and_foreign_ones_are_not_shown() {
    claims.add(claim("new", "juicefs-sc", "Pending", JUST_NOW));
    claims.add(claim("stuck", "juicefs-sc", "Pending", LONG_AGO));
    claims.add(claim("ebs", "gp2", "Pending", LONG_AGO));
    classes.add(sc("gp2", "ebs.csi.aws.com"));
    List<Problem> problems = ClusterPicture.problems(sources());
    assertThat(problems).extracting(Problem::kind).containsExactly("claim-not-bound");
    assertThat(problems.getFirst().subject())
        .contains(new DoctorSubject(false, "default", "stuck"));
    Map<String, Object> picture = ClusterPicture.of(sources(), p -> Optional.empty());
    assertThat(picture.get("pendingClaims").toString())
        .contains("default/new", "default/stuck")
        .doesNotContain("ebs");
    assertThat(picture.get("storageClasses").toString())
        .contains("juicefs-sc")
        .doesNotContain("gp2");
  }

  @Test
  void a_mount_pod_of_another_drivers_volume_is_not_shown_but_one_whose_volume_is_gone_is() {
    volumes.add(
        new PersistentVolumeBuilder(pv("other-pv", "default", "other"))
            .editSpec()
            .editCsi()
            .withDriver("other.csi.juicefs.com")
            .endCsi()
            .endSpec()
            .build());
    pods.add(mountPod("theirs", "n1", "other-pv", false, 0, null, null));
    pods.add(mountPod("orphan", "n1", "gone-pv", false, 0, null, null));
    List<Problem> problems = ClusterPicture.problems(sources());
    assertThat(problems)
        .extracting(Problem::what)
        .singleElement()
        .asString()
        .contains("default/orphan");
  }

  @Test
  void the_same_cluster_gives_the_same_picture() {
    pods.add(mountPod("loop", "n1", "pvc-1", false, 4, "CrashLoopBackOff", null));
    pods.add(app("stuck", "n1", "Pending", false, LONG_AGO, "ContainerCreating"));
    Map<String, Object> one = ClusterPicture.of(sources(), p -> Optional.empty());
    Collections.reverse(pods);
    Map<String, Object> two = ClusterPicture.of(sources(), p -> Optional.empty());
    assertThat(two).isEqualTo(one);
  }

  static StorageClass sc(String name, String provisioner) {
    return new StorageClassBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withProvisioner(provisioner)
        .withReclaimPolicy("Delete")
        .build();
  }

  /**
   * A share mode: one Mount Pod labelled by its StorageClass serves pvc-1 and pvc-2; the page lists
   * it under both volumes and says so, rather than taking it for the pod of a PV that is gone.
   */
  @Test
  void a_mount_pod_shared_by_two_volumes_is_listed_under_both_and_says_so() {
    volumes.add(pv("pvc-2", "default", "logs"));
    claims.add(claim("logs", "juicefs-sc", "Bound", LONG_AGO));
    String t1 = "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pvc-1/mount";
    String t2 = "/var/lib/kubelet/pods/u2/volumes/kubernetes.io~csi/pvc-2/mount";
    Pod shared = mountPod("juicefs-n1-juicefs-sc-abcdef", "n1", "juicefs-sc", true, 0, null, null);
    shared
        .getMetadata()
        .setAnnotations(
            Map.of(
                MountPodNames.referenceKey(t1),
                t1,
                MountPodNames.referenceKey(t2),
                t2,
                MountPodNames.UNIQUE_ID,
                "juicefs-sc",
                MountPodNames.SOURCE,
                new PodSource("pvc-1", Map.of(), List.of(), "s").toJson(),
                MountPodNames.TARGET_VOLUMES,
                "{\"" + t2 + "\":{\"volumeId\":\"pvc-2\",\"subPath\":\"pvc-2\"}}"));
    pods.add(shared);
    pods.add(plugin("n1"));
    reports.put("n1", report(List.of(client("juicefs-sc", "READY"))));

    assertThat(kinds()).isEmpty();
    Map<String, Object> picture = ClusterPicture.of(sources(), p -> Optional.empty());
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> listed = (List<Map<String, Object>>) picture.get("volumes");
    assertThat(listed)
        .allSatisfy(
            v ->
                assertThat(v.get("mountPods").toString())
                    .contains("juicefs-n1-juicefs-sc-abcdef", "sharedAs=juicefs-sc")
                    .contains("volumes=[pvc-1, pvc-2]"));
    assertThat(MountPodVolumes.volumeIds(shared)).containsExactlyInAnyOrder("pvc-1", "pvc-2");
    assertThat(MountPodVolumes.serves(shared, "pvc-2")).isTrue();
    assertThat(MountPodVolumes.serves(shared, "pvc-3")).isFalse();
  }

  static PersistentVolume pv(String name, String ns, String claim) {
    return new PersistentVolumeBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withStorageClassName("juicefs-sc")
        .withNewClaimRef()
        .withNamespace(ns)
        .withName(claim)
        .endClaimRef()
        .withNewCsi()
        .withDriver(DRIVER)
        .withVolumeHandle(name)
        .endCsi()
        .endSpec()
        .withNewStatus()
        .withPhase("Bound")
        .endStatus()
        .build();
  }

  static PersistentVolumeClaim claim(String name, String sc, String phase, String created) {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName(name)
        .withCreationTimestamp(created)
        .endMetadata()
        .withNewSpec()
        .withStorageClassName(sc)
        .endSpec()
        .withNewStatus()
        .withPhase(phase)
        .endStatus()
        .build();
  }

  static Pod app(
      String name, String node, String phase, boolean ready, String created, String waiting) {
    ContainerStatusBuilder status = new ContainerStatusBuilder().withName("app").withReady(ready);
    if (waiting != null) {
      status.withNewState().withNewWaiting().withReason(waiting).endWaiting().endState();
    }
    return new PodBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName(name)
        .withCreationTimestamp(created)
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .addNewVolume()
        .withName("data")
        .withNewPersistentVolumeClaim()
        .withClaimName("data")
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .withNewStatus()
        .withPhase(phase)
        .withContainerStatuses(status.build())
        .endStatus()
        .build();
  }

  static Pod mountPod(
      String name,
      String node,
      String handle,
      boolean ready,
      int restarts,
      String waiting,
      String lastExit) {
    ContainerStatusBuilder status =
        new ContainerStatusBuilder()
            .withName(MountPodNames.CONTAINER)
            .withReady(ready)
            .withRestartCount(restarts);
    if (waiting != null) {
      status.withNewState().withNewWaiting().withReason(waiting).endWaiting().endState();
    }
    if (lastExit != null) {
      status
          .withNewLastState()
          .withNewTerminated()
          .withExitCode(137)
          .withReason("Error")
          .withFinishedAt(lastExit)
          .endTerminated()
          .endLastState();
    }
    ContainerStatus built = status.build();
    return new PodBuilder()
        .withNewMetadata()
        .withNamespace("default")
        .withName(name)
        .withCreationTimestamp(LONG_AGO)
        .withLabels(
            Map.of(
                MountPodNames.APP_LABEL,
                MountPodNames.APP,
                MountPodNames.VOLUME_ID_LABEL,
                MountPodNames.volumeLabel(handle)))
        .withAnnotations(
            Map.of(
                MountPodNames.referenceKey("/var/lib/kubelet/pods/u/volumes/x/mount"),
                "/var/lib/kubelet/pods/u/volumes/x/mount"))
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .endSpec()
        .withNewStatus()
        .withPhase(ready ? "Running" : "Pending")
        .withContainerStatuses(built)
        .endStatus()
        .build();
  }

  static Pod plugin(String node) {
    return new PodBuilder()
        .withNewMetadata()
        .withNamespace("jfs-csi")
        .withName("jfs-csi-node-" + node)
        .withLabels(
            Map.of("app.kubernetes.io/name", "jfs-csi", "app.kubernetes.io/component", "node"))
        .endMetadata()
        .withNewSpec()
        .withNodeName(node)
        .endSpec()
        .withNewStatus()
        .withPhase("Running")
        .withPodIP("10.0.0.1")
        .withContainerStatuses(
            new ContainerStatusBuilder().withName("driver").withReady(true).build())
        .endStatus()
        .build();
  }

  static NodeReport report(List<Map<String, Object>> clients) {
    return new NodeReport(
        "http://10.0.0.1:9560/clients", "http://10.0.0.1:9560/", clients, Optional.empty());
  }

  static Map<String, Object> client(String volume, String state) {
    return Map.of("volumeId", volume, "state", state, "targets", List.of("/t"));
  }
}

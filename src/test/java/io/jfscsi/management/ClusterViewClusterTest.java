package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.management.cluster.ClusterView;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** GET /cluster's content, read from the real API server, and the kubectl plugin's lists of it. */
class ClusterViewClusterTest {

  @Test
  @SuppressWarnings("unchecked")
  void showsTheDriversVolumesWithClaimPodsAndMountPodReferences(@TempDir Path tmp)
      throws Exception {
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String ns = cluster.newNamespace("view");
    String driver = ns + ".csi.juicefs.com"; // a driver name of this test's own
    cluster.createNode(ns + "-node");
    k.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(ns + "-sc")
                .endMetadata()
                .withProvisioner(driver)
                .withReclaimPolicy("Retain")
                .withParameters(Map.of("juicefs/mount-delete-delay", "1m"))
                .build())
        .create();
    String pv = ns + "-pv";
    String target = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" + pv + "/mount";
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("")
                .withNewCsi()
                .withDriver(driver)
                .withVolumeHandle(pv)
                .withVolumeAttributes(Map.of("subPath", "data"))
                .endCsi()
                .endSpec()
                .build())
        .create();
    k.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("data")
                .endMetadata()
                .withNewSpec()
                .withStorageClassName("")
                .withVolumeName(pv)
                .withAccessModes("ReadWriteMany")
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("app")
                .endMetadata()
                .withNewSpec()
                .withNodeName(ns + "-node")
                .addNewContainer()
                .withName("app")
                .withImage("busybox")
                .endContainer()
                .addNewVolume()
                .withName("d")
                .withNewPersistentVolumeClaim()
                .withClaimName("data")
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .build())
        .create();
    k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("juicefs-m")
                .addToLabels("app.kubernetes.io/name", "juicefs-mount")
                .addToLabels("volume-id", pv)
                .addToAnnotations(MountPodNames.referenceKey(target), target)
                .endMetadata()
                .withNewSpec()
                .withNodeName(ns + "-node")
                .addNewContainer()
                .withName("jfs-mount")
                .withImage("m")
                .endContainer()
                .endSpec()
                .build())
        .create();
    Awaitility.await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "Bound"
                    .equals(
                        k.persistentVolumeClaims()
                            .inNamespace(ns)
                            .withName("data")
                            .get()
                            .getStatus()
                            .getPhase()));

    Map<String, Object> view = new ClusterView(k, driver).read();

    assertThat((List<Map<String, Object>>) view.get("storageClasses"))
        .singleElement()
        .satisfies(sc -> assertThat(sc).containsEntry("name", ns + "-sc"));
    Map<String, Object> volume = ((List<Map<String, Object>>) view.get("volumes")).getFirst();
    assertThat(volume)
        .containsEntry("pv", pv)
        .containsEntry("claim", ns + "/data")
        .containsEntry("claimPhase", "Bound")
        .containsEntry("subPath", "data");
    assertThat((List<Map<String, Object>>) volume.get("pods"))
        .singleElement()
        .satisfies(p -> assertThat(p).containsEntry("pod", ns + "/app"));
    assertThat((List<Map<String, Object>>) volume.get("mountPods"))
        .singleElement()
        .satisfies(
            p ->
                assertThat(p)
                    .containsEntry("pod", ns + "/juicefs-m")
                    .containsEntry(
                        "references",
                        List.of(
                            "/var/lib/kubelet/pods/u/volumes/"
                                + "kubernetes.io~csi/"
                                + pv
                                + "/mount")));
    assertThat(new ClusterView(k, driver).json()).contains("\"driver\":\"" + driver + "\"");

    // The same through kubectl's plugin mechanism, with a context that is not the current one.
    Path kubeconfig = tmp.resolve("kubeconfig");
    Files.writeString(
        kubeconfig,
        Files.readString(cluster.kubeconfig())
            .replace("current-context: jfs-csi", "current-context: nowhere")
            .replace(
                "clusters:\n",
                "clusters:\n- name: nowhere\n  cluster:\n    server: https://127.0.0.1:1\n")
            .replace(
                "contexts:\n",
                "contexts:\n- name: nowhere\n  context:\n    cluster: nowhere\n    user: admin\n"));
    String json =
        kubectlPlugin(
            kubeconfig,
            "jfs-csi",
            "mountpods",
            "--driver-name",
            driver,
            "-o",
            "json",
            "--context",
            "jfs-csi");
    assertThat(json)
        .contains("\"pod\":\"" + ns + "/juicefs-m\"")
        .contains("\"references\":[\"" + target + "\"]");
    String table =
        kubectlPlugin(
            kubeconfig, "jfs-csi", "--context=jfs-csi", "volumes", "--driver-name=" + driver);
    assertThat(table.lines().toList())
        .first()
        .asString()
        .startsWith("PV ")
        .contains("CLAIM", "PHASE", "STORAGECLASS", "PODS", "MOUNT PODS");
    assertThat(table.lines().skip(1).toList())
        .singleElement()
        .asString()
        .contains(pv, ns + "/data", ns + "/app", ns + "/juicefs-m");
    assertThat(kubectlPlugin(kubeconfig, "jfs-csi", "--help"))
        .contains("doctor", "warmup", "mountpods", "volumes");
  }

  /**
   * Runs {@code kubectl ARGS} with deploy/kubectl-plugin on PATH, so that kubectl finds the plugin
   * as a user's would; the plugin runs this test's classpath instead of a packaged jar.
   */
  static String kubectlPlugin(Path kubeconfig, String... args) throws Exception {
    Optional<Path> kubectl =
        Stream.of(System.getenv("PATH").split(":"))
            .map(d -> Path.of(d, "kubectl"))
            .filter(Files::isExecutable)
            .findFirst();
    HostRequirements.require(kubectl.isPresent(), "kubectl (apt-get install kubernetes-client)");
    List<String> command = new ArrayList<>(List.of(kubectl.get().toString()));
    command.addAll(List.of(args));
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment()
        .put(
            "PATH",
            Path.of("deploy/kubectl-plugin").toAbsolutePath() + ":" + System.getenv("PATH"));
    pb.environment().put("KUBECONFIG", kubeconfig.toString());
    pb.environment().put("JAVA_HOME", System.getProperty("java.home"));
    pb.environment().put("JFS_CSI_CLASSPATH", System.getProperty("java.class.path"));
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(120, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + "\n" + out).isZero();
    return out;
  }
}

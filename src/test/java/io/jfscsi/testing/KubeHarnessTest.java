package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Smoke tests of the control plane that {@link KubeCluster} starts: the real thing answers. */
class KubeHarnessTest {
  private static KubeCluster cluster;

  @BeforeAll
  static void up() {
    cluster = KubeCluster.shared();
  }

  @Test
  void api_server_answers_with_its_version() {
    assertThat(cluster.client().getKubernetesVersion().getGitVersion()).isEqualTo("v1.20.2");
    assertThat(cluster.kubeconfig()).exists();
  }

  @Test
  void a_new_namespace_is_active_and_has_a_default_service_account() {
    String ns = cluster.newNamespace("Harness_Smoke");
    assertThat(ns).startsWith("harness-smoke-");
    assertThat(cluster.client().namespaces().withName(ns).get().getStatus().getPhase())
        .isEqualTo("Active");
    assertThat(cluster.client().serviceAccounts().inNamespace(ns).withName("default").get())
        .isNotNull();
  }

  @Test
  void a_write_with_a_stale_resource_version_is_a_409_conflict() {
    String ns = cluster.newNamespace("conflict");
    KubernetesClient k = cluster.client();
    ConfigMap created =
        k.configMaps()
            .inNamespace(ns)
            .resource(
                new ConfigMapBuilder()
                    .withNewMetadata()
                    .withName("cm")
                    .endMetadata()
                    .addToData("a", "1")
                    .build())
            .create();
    ConfigMap stale = new ConfigMapBuilder(created).build();
    k.configMaps()
        .inNamespace(ns)
        .resource(new ConfigMapBuilder(created).addToData("a", "2").build())
        .update();
    stale.getData().put("a", "3");
    assertThatThrownBy(() -> k.configMaps().inNamespace(ns).resource(stale).update())
        .isInstanceOfSatisfying(
            KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(409));
    assertThat(k.configMaps().inNamespace(ns).withName("cm").get().getData())
        .containsEntry("a", "2");
  }

  @Test
  void pods_are_found_by_a_spec_node_name_field_selector() {
    String ns = cluster.newNamespace("fieldsel");
    KubernetesClient k = cluster.client();
    for (String node : List.of("harness-node-a", "harness-node-b")) {
      k.pods()
          .inNamespace(ns)
          .resource(
              new PodBuilder()
                  .withNewMetadata()
                  .withName("on-" + node)
                  .endMetadata()
                  .withNewSpec()
                  .withNodeName(node)
                  .addNewContainer()
                  .withName("c")
                  .withImage("busybox")
                  .endContainer()
                  .endSpec()
                  .build())
          .create();
    }
    List<Pod> onA =
        k.pods().inNamespace(ns).withField("spec.nodeName", "harness-node-a").list().getItems();
    assertThat(onA).extracting(p -> p.getMetadata().getName()).containsExactly("on-harness-node-a");
    // Without a kubelet, nothing runs them.
    assertThat(onA.getFirst().getStatus().getPhase()).isEqualTo("Pending");
  }

  @Test
  void a_node_is_ready() {
    cluster.createNode("harness-ready-node");
    var node = cluster.client().nodes().withName("harness-ready-node").get();
    assertThat(node.getStatus().getConditions())
        .anySatisfy(
            c -> {
              assertThat(c.getType()).isEqualTo("Ready");
              assertThat(c.getStatus()).isEqualTo("True");
            });
    cluster.createNode("harness-ready-node"); // again: idempotent
    cluster.deleteNode("harness-ready-node");
  }

  @Test
  void the_controller_manager_binds_a_claim_to_a_matching_volume() {
    String ns = cluster.newNamespace("binder");
    KubernetesClient k = cluster.client();
    String pv = ns + "-pv";
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("manual")
                .withNewHostPath()
                .withPath("/tmp")
                .endHostPath()
                .endSpec()
                .build())
        .create();
    try {
      PersistentVolumeClaim claim =
          new PersistentVolumeClaimBuilder()
              .withNewMetadata()
              .withName("claim")
              .endMetadata()
              .withNewSpec()
              .withAccessModes("ReadWriteMany")
              .withStorageClassName("manual")
              .withNewResources()
              .addToRequests("storage", new Quantity("1Gi"))
              .endResources()
              .endSpec()
              .build();
      k.persistentVolumeClaims().inNamespace(ns).resource(claim).create();
      await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .untilAsserted(
              () ->
                  assertThat(
                          k.persistentVolumeClaims()
                              .inNamespace(ns)
                              .withName("claim")
                              .get()
                              .getStatus()
                              .getPhase())
                      .isEqualTo("Bound"));
      assertThat(
              k.persistentVolumeClaims()
                  .inNamespace(ns)
                  .withName("claim")
                  .get()
                  .getSpec()
                  .getVolumeName())
          .isEqualTo(pv);
    } finally {
      k.persistentVolumes().withName(pv).delete();
    }
  }

  @Test
  void a_service_account_token_authenticates_and_rbac_applies() {
    String ns = cluster.newNamespace("rbac");
    try (KubernetesClient sa =
        new KubernetesClientBuilder()
            .withConfig(cluster.serviceAccountConfig(ns, "default"))
            .build()) {
      // The default ServiceAccount has no rights beyond discovery.
      assertThatThrownBy(() -> sa.configMaps().inNamespace(ns).list())
          .isInstanceOfSatisfying(
              KubernetesClientException.class, e -> assertThat(e.getCode()).isEqualTo(403));
      assertThat(sa.getKubernetesVersion().getGitVersion()).isEqualTo("v1.20.2");
    }
  }
}

package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.jfscsi.testing.HostRequirements;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Settings from the claim against the real API server, with the node plugin's manifest RBAC: the
 * claim's {@code juicefs/mount-*} resource annotations reach the Mount Pod over the volume context,
 * a bad one is refused naming the claim, and {@code ${.node.*}} / {@code ${.pvc.*}} templates in a
 * PV's mount options are filled in on the node that mounts.
 */
class ClaimSettingsClusterTest {
  @TempDir Path dir;
  PublishingNode node;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "claimset").withNodeRbac(dir.resolve("node.kubeconfig"));
    node.startDriver().startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private void annotate(String claim, Map<String, String> annotations) {
    node.api
        .persistentVolumeClaims()
        .inNamespace(node.namespace)
        .withName(claim)
        .edit(
            c -> {
              c.getMetadata().setAnnotations(annotations);
              return c;
            });
  }

  private Pod mountPodOf(String pv) {
    return await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                node.mountPods().stream()
                    .filter(
                        p ->
                            MountPodNames.volumeLabel(pv)
                                .equals(
                                    p.getMetadata().getLabels().get(MountPodNames.VOLUME_ID_LABEL)))
                    .toList(),
            pods -> pods.size() == 1)
        .getFirst();
  }

  private static BigDecimal amount(Map<String, Quantity> list, String name) {
    return Quantity.getAmountInBytes(list.get(name));
  }

  @Test
  void claimAnnotationsReachTheMountPodAndTemplatesAreFilledOnTheNode() {
    String pv =
        node.staticVolume(
            "res",
            Map.of("juicefs/mount-cpu-limit", "2", "juicefs/mount-cpu-request", "100m"),
            List.of("log-id=${.node.name}-${.pvc.namespace}-${.pvc.labels.none}x"));
    annotate(
        "res",
        Map.of(
            "juicefs/mount-cpu-limit", "700m",
            "juicefs/mount-memory-limit", "3Gi",
            "juicefs/mount-image", "not-a-setting:1"));
    node.appPod("app-1", "res");
    node.awaitRunning("app-1");
    Pod mountPod = mountPodOf(pv);
    Container c = mountPod.getSpec().getContainers().getFirst();
    // The annotation over the volume context; the context's request stays.
    assertThat(amount(c.getResources().getLimits(), "cpu")).isEqualByComparingTo("0.7");
    assertThat(amount(c.getResources().getRequests(), "cpu")).isEqualByComparingTo("0.1");
    assertThat(amount(c.getResources().getLimits(), "memory"))
        .isEqualByComparingTo(BigDecimal.valueOf(3L << 30));
    assertThat(c.getImage()).isNotEqualTo("not-a-setting:1");
    assertThat(String.join(" ", c.getCommand()))
        .contains("log-id=" + node.node + "-" + node.namespace + "-x");
    assertThat(node.forbiddenCalls()).isEmpty();
  }

  @Test
  void aBadClaimAnnotationIsRefusedNamingTheClaim() {
    node.staticVolume("bad", Map.of(), List.of());
    annotate("bad", Map.of("juicefs/mount-memory-limit", "lots"));
    node.appPod("app-bad", "bad");
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> {
              Pod p = node.api.pods().inNamespace(node.namespace).withName("app-bad").get();
              assertThat(p.getStatus().getContainerStatuses())
                  .anySatisfy(
                      s ->
                          assertThat(s.getState().getWaiting().getMessage())
                              .contains("INVALID_ARGUMENT")
                              .contains(
                                  "annotation 'juicefs/mount-memory-limit' of PVC "
                                      + node.namespace
                                      + "/bad"));
            });
    assertThat(node.mountPods()).isEmpty();
  }
}

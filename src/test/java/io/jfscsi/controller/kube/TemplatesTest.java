package io.jfscsi.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.jfscsi.Failure;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class TemplatesTest {

  static PersistentVolumeClaim claim() {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName("data")
        .withNamespace("team-a")
        .withUid("0b5f3c1e-1111-2222-3333-444455556666")
        .withLabels(Map.of("app", "web", "tier", "front"))
        .withAnnotations(Map.of("owner", "alice", "example.com/project", "p1"))
        .endMetadata()
        .build();
  }

  @Test
  void pathPatternResolvesNameNamespaceLabelsAndAnnotations() {
    assertThat(Templates.subPath("${.pvc.namespace}-${.pvc.name}", claim()))
        .isEqualTo("team-a-data");
    assertThat(Templates.subPath("${.PVC.labels.app}/${.PVC.annotations.owner}", claim()))
        .isEqualTo("web/alice");
    assertThat(Templates.subPath("p/${.pvc.annotations.example.com/project}/x", claim()))
        .isEqualTo("p/p1/x");
    assertThat(Templates.subPath("fixed", claim())).isEqualTo("fixed");
  }

  @Test
  void aMissingLabelIsEmptyAsInTheGoDriver() {
    assertThat(Templates.subPath("${.pvc.name}-${.pvc.labels.nope}", claim())).isEqualTo("data-");
    assertThat(Templates.subPath("/${.pvc.labels.nope}/${.pvc.name}/", claim())).isEqualTo("data");
  }

  @Test
  void pathPatternNeverNamesTheRootOrLeavesIt() {
    assertThatThrownBy(() -> Templates.subPath("${.pvc.labels.nope}", claim()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("empty path")
        .hasMessageContaining("root");
    assertThatThrownBy(() -> Templates.subPath("/", claim())).isInstanceOf(Failure.class);
    assertThatThrownBy(() -> Templates.subPath("../${.pvc.name}", claim()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("'..'");
    assertThatThrownBy(() -> Templates.subPath("a/./b", claim()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("'.'");
  }

  static Node node() {
    return new NodeBuilder()
        .withNewMetadata()
        .withName("worker-1")
        .withLabels(Map.of("topology.kubernetes.io/zone", "z1"))
        .withAnnotations(Map.of("rack", "r7"))
        .endMetadata()
        .withNewSpec()
        .withPodCIDR("10.1.2.0/24")
        .endSpec()
        .build();
  }

  @Test
  void pathPatternResolvesTheChosenNodesNameLabelsAnnotationsAndPodCidr() {
    assertThat(
            Templates.subPath(
                "${.node.labels.topology.kubernetes.io/zone}/${.node.annotations.rack}/"
                    + "${.node.name}/${.pvc.name}",
                claim(),
                Optional.of(node())))
        .isEqualTo("z1/r7/worker-1/data");
    assertThat(Templates.subPath("${.node.podCIDR}", claim(), Optional.of(node())))
        .isEqualTo("10.1.2.0/24");
  }

  @Test
  void withoutAChosenNodeItsTemplatesAreEmptyInPathPatternAsInTheGoDriver() {
    assertThat(Templates.subPath("${.node.name}/${.pvc.name}", claim())).isEqualTo("data");
    assertThat(Templates.parameter("x-${.node.name}", claim(), Optional.empty())).isEqualTo("x-");
  }

  @Test
  void anUnknownPlaceholderIsRefusedInPathPattern() {
    assertThatThrownBy(() -> Templates.subPath("${.pvc.uid}/${.pvc.name}", claim()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("${.pvc.uid}")
        .hasMessageContaining("${.node.labels.KEY}");
    assertThatThrownBy(() -> Templates.subPath("${HOME}/${.pvc.name}", claim()))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("${HOME}");
  }

  @Test
  void mountOptionsKeepNodeTemplatesForTheNodePluginUnlessTheNodeIsChosen() {
    assertThat(Templates.mountOption("cache-dir=/c/${.node.name}/${.pvc.name}", claim()))
        .isEqualTo("cache-dir=/c/${.node.name}/data");
    assertThat(
            Templates.mountOption(
                "cache-dir=/c/${.node.name}/${.pvc.name}", claim(), Optional.of(node())))
        .isEqualTo("cache-dir=/c/worker-1/data");
  }

  @Test
  void otherParametersAreFilledInAsTheGoDriversProvisionerDoes() {
    assertThat(
            Templates.parameter(
                "${.pvc.annotations.owner}-${.node.name}", claim(), Optional.of(node())))
        .isEqualTo("alice-worker-1");
    assertThat(
            VolumeObjects.volumeParameters(
                Map.of(
                    "juicefs/mount-cpu-limit",
                    "${.pvc.annotations.owner}",
                    "csi.storage.k8s.io/provisioner-secret-name",
                    "s"),
                claim(),
                Optional.empty()))
        .containsExactly(Map.entry("juicefs/mount-cpu-limit", "alice"));
  }

  @Test
  void secretReferencesResolveExternalProvisionerTemplates() {
    PersistentVolumeClaim pvc = claim();
    assertThat(Templates.secretReference("k", "${pvc.name}-secret", pvc, "pvc-x"))
        .isEqualTo("data-secret");
    assertThat(Templates.secretReference("k", "${pvc.namespace}", pvc, "pvc-x"))
        .isEqualTo("team-a");
    assertThat(Templates.secretReference("k", "${pv.name}", pvc, "pvc-x")).isEqualTo("pvc-x");
    assertThat(Templates.secretReference("k", "${pvc.annotations['owner']}", pvc, "pvc-x"))
        .isEqualTo("alice");
    assertThat(Templates.secretReference("k", "plain", pvc, "pvc-x")).isEqualTo("plain");
    assertThatThrownBy(
            () -> Templates.secretReference("k", "${pvc.annotations['none']}", pvc, "pvc-x"))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("annotation none");
    assertThatThrownBy(() -> Templates.secretReference("k", "${.pvc.name}", pvc, "pvc-x"))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("unknown placeholder");
  }
}

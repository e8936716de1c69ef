package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.ServiceAccountBuilder;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.scheduling.v1.PriorityClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.KubeCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The Mount Pod keys against a real kube-apiserver: the API server accepts the pod that the
 * volume's keys shape (its validation and its ServiceAccount and Priority admission, which refuse
 * an unknown account or class), and the stored pod carries every one of them.
 */
class MountPodExtrasClusterTest {

  @Test
  void theStoredMountPodCarriesEveryKey() {
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient api = cluster.client();
    String ns = cluster.newNamespace("podkeys");
    String priority = ns + "-mount";
    api.serviceAccounts()
        .inNamespace(ns)
        .resource(
            new ServiceAccountBuilder()
                .withNewMetadata()
                .withName("jfs-mount")
                .endMetadata()
                .build())
        .create();
    api.scheduling()
        .v1()
        .priorityClasses()
        .resource(
            new PriorityClassBuilder()
                .withNewMetadata()
                .withName(priority)
                .endMetadata()
                .withValue(1000)
                // The Priority admission refuses a pod whose policy differs from its class's.
                .withPreemptionPolicy("Never")
                .build())
        .create();
    try {
      KubeRuntimeConfig config =
          new KubeRuntimeConfig(
              "node-podkeys",
              ns,
              "juicedata/mount:test",
              priority,
              "",
              Duration.ofSeconds(60),
              Duration.ofSeconds(10),
              Path.of("/var/lib/juicefs/volume"),
              KubeRuntimeConfig.DEFAULT_CONFIG_MAP,
              "Never",
              "",
              "");
      VolumeSettings s =
          SettingsParser.parse(
              MountPodBuilderTest.source(
                  Map.of(
                      "juicefs/mount-labels", "{team: data}",
                      "juicefs/mount-annotations", "{\"example.com/owner\": \"ops team\"}",
                      "juicefs/mount-service-account", "jfs-mount",
                      "juicefs/mount-cache-emptydir", "Memory:1Gi",
                      "juicefs/mount-cache-inline-volume",
                          "[{\"driver\": \"local.csi.example.com\","
                              + " \"volumeAttributes\": {\"size\": \"5Gi\"}}]",
                      "juicefs/host-path", "/etc/ssl/certs"),
                  List.of()));
      ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
      MountPodSecret secret = MountPodSecret.of(MountPodNames.secretName("node-podkeys", key), s);
      Pod built =
          MountPodBuilder.build(
              config,
              new MountPodBuilder.Identity(
                  key,
                  MountPodNames.podName("node-podkeys", s.volumeId(), "abcdef"),
                  MountPodNames.mountPath(config.mountRoot(), key, "abcdef")),
              s,
              secret);
      api.secrets().inNamespace(ns).resource(secret.toSecret(ns)).create();
      api.pods().inNamespace(ns).resource(built).create();

      Pod stored = api.pods().inNamespace(ns).withName(built.getMetadata().getName()).get();
      assertThat(stored.getMetadata().getLabels())
          .containsEntry("team", "data")
          .containsEntry(MountPodNames.APP_LABEL, MountPodNames.APP);
      assertThat(stored.getMetadata().getAnnotations())
          .containsEntry("example.com/owner", "ops team");
      assertThat(stored.getSpec().getServiceAccountName()).isEqualTo("jfs-mount");
      assertThat(stored.getSpec().getPriorityClassName()).isEqualTo(priority);
      assertThat(stored.getSpec().getPriority()).isEqualTo(1000);
      assertThat(stored.getSpec().getPreemptionPolicy()).isEqualTo("Never");
      Volume empty = volume(stored, "cachedir-empty-dir");
      assertThat(empty.getEmptyDir().getMedium()).isEqualTo("Memory");
      assertThat(empty.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("1Gi"));
      Volume inline = volume(stored, "cachedir-inline-volume-0");
      assertThat(inline.getCsi().getDriver()).isEqualTo("local.csi.example.com");
      assertThat(inline.getCsi().getVolumeAttributes()).containsEntry("size", "5Gi");
      assertThat(volume(stored, "hostpath-0").getHostPath().getPath()).isEqualTo("/etc/ssl/certs");
      assertThat(stored.getSpec().getContainers().getFirst().getVolumeMounts())
          .extracting(m -> m.getMountPath())
          .contains("/var/jfsCache-emptyDir", "/var/jfsCache-inlineVolume-0", "/etc/ssl/certs");

      // A volume without the key: the node plugin's account (configured), and no API token
      // mounted by the ServiceAccount admission.
      KubeRuntimeConfig nodeAccount =
          new KubeRuntimeConfig(
              "node-podkeys",
              ns,
              "juicedata/mount:test",
              "",
              "",
              Duration.ofSeconds(60),
              Duration.ofSeconds(10),
              Path.of("/var/lib/juicefs/volume"),
              KubeRuntimeConfig.DEFAULT_CONFIG_MAP,
              "",
              "jfs-mount",
              "");
      VolumeSettings plain =
          SettingsParser.parse(MountPodBuilderTest.source(Map.of("subPath", "p"), List.of()));
      ClientKey plainKey = new ClientKey("pv-plain", plain.clientHash());
      MountPodSecret plainSecret =
          MountPodSecret.of(MountPodNames.secretName("node-podkeys", plainKey), plain);
      Pod defaulted =
          MountPodBuilder.build(
              nodeAccount,
              new MountPodBuilder.Identity(
                  plainKey,
                  MountPodNames.podName("node-podkeys", "pv-plain", "ghijkl"),
                  MountPodNames.mountPath(nodeAccount.mountRoot(), plainKey, "ghijkl")),
              plain,
              plainSecret);
      api.secrets().inNamespace(ns).resource(plainSecret.toSecret(ns)).create();
      api.pods().inNamespace(ns).resource(defaulted).create();
      Pod storedDefault =
          api.pods().inNamespace(ns).withName(defaulted.getMetadata().getName()).get();
      assertThat(storedDefault.getSpec().getServiceAccountName()).isEqualTo("jfs-mount");
      assertThat(storedDefault.getSpec().getAutomountServiceAccountToken()).isFalse();
      assertThat(storedDefault.getSpec().getContainers().getFirst().getVolumeMounts())
          .extracting(m -> m.getMountPath())
          .as("no service account token in the Mount Pod")
          .doesNotContain("/var/run/secrets/kubernetes.io/serviceaccount");
      assertThat(stored.getSpec().getContainers().getFirst().getVolumeMounts())
          .extracting(m -> m.getMountPath())
          .as("the admission does mount a token where the account is not defaulted")
          .contains("/var/run/secrets/kubernetes.io/serviceaccount");
    } finally {
      // The pod keeps the drivers' finalizer and has no kubelet: take it off so it can go.
      api.pods()
          .inNamespace(ns)
          .list()
          .getItems()
          .forEach(
              p -> {
                api.pods()
                    .inNamespace(ns)
                    .withName(p.getMetadata().getName())
                    .edit(
                        q -> {
                          q.getMetadata().setFinalizers(List.of());
                          return q;
                        });
                api.pods().inNamespace(ns).withName(p.getMetadata().getName()).delete();
              });
      api.scheduling().v1().priorityClasses().withName(priority).delete();
    }
  }

  private static Volume volume(Pod pod, String name) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name));
  }
}

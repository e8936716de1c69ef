package io.jfscsi.runtime.kube;

import static io.jfscsi.runtime.kube.MountPodBuilderTest.CONFIG;
import static io.jfscsi.runtime.kube.MountPodBuilderTest.build;
import static io.jfscsi.runtime.kube.MountPodBuilderTest.source;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MountPodExtrasTest {

  private static final Map<String, String> ALL_KEYS =
      Map.of(
          "juicefs/mount-labels", "{team: data}",
          "juicefs/mount-annotations", "{\"example.com/owner\": \"ops team\"}",
          "juicefs/mount-service-account", "jfs-mount",
          "juicefs/mount-cache-emptydir", "Memory:1Gi",
          "juicefs/mount-cache-inline-volume",
              "[{\"driver\": \"local.csi.example.com\", \"volumeAttributes\": {\"size\": \"5Gi\"}}]",
          "juicefs/host-path", "/etc/ssl/certs,/var/lib/juicefs/volume");

  private static Pod pod(Map<String, String> context) {
    return build(SettingsParser.parse(source(context, List.of())));
  }

  @Test
  void every_key_reaches_the_mount_pod() {
    Pod pod = pod(ALL_KEYS);
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("team", "data")
        .containsEntry(MountPodNames.APP_LABEL, MountPodNames.APP);
    assertThat(pod.getMetadata().getAnnotations())
        .containsEntry("example.com/owner", "ops team")
        .containsKey(MountPodNames.UNIQUE_ID);
    assertThat(pod.getSpec().getServiceAccountName()).isEqualTo("jfs-mount");
    assertThat(pod.getSpec().getPriorityClassName()).isEqualTo("system-node-critical");
    assertThat(pod.getSpec().getPreemptionPolicy()).isNull();

    Volume empty = volume(pod, "cachedir-empty-dir");
    assertThat(empty.getEmptyDir().getMedium()).isEqualTo("Memory");
    assertThat(empty.getEmptyDir().getSizeLimit()).isEqualTo(new Quantity("1Gi"));
    Volume inline = volume(pod, "cachedir-inline-volume-0");
    assertThat(inline.getCsi().getDriver()).isEqualTo("local.csi.example.com");
    assertThat(inline.getCsi().getVolumeAttributes()).containsEntry("size", "5Gi");
    assertThat(volume(pod, "hostpath-0").getHostPath().getPath()).isEqualTo("/etc/ssl/certs");
    assertThat(mountPaths(pod))
        .contains("/var/jfsCache-emptyDir", "/var/jfsCache-inlineVolume-0", "/etc/ssl/certs");
    // The mount root is mounted already (Bidirectional); a host path naming it is not doubled.
    assertThat(mountPaths(pod).stream().filter(p -> p.equals("/var/lib/juicefs/volume")))
        .hasSize(1);
    // The caches on volumes replace the default host cache, as in the Go driver.
    assertThat(command(pod))
        .contains("--cache-dir=/var/jfsCache-emptyDir:/var/jfsCache-inlineVolume-0")
        .doesNotContain("/var/jfsCache:");
    assertThat(pod.getSpec().getVolumes())
        .noneMatch(
            v -> v.getHostPath() != null && v.getHostPath().getPath().equals("/var/jfsCache"));
  }

  @Test
  void an_explicit_cache_dir_is_kept_beside_the_volume_caches() {
    Pod pod =
        build(
            SettingsParser.parse(
                source(
                    Map.of("juicefs/mount-cache-emptydir", ":10Gi"), List.of("cache-dir=/ssd"))));
    assertThat(command(pod)).contains("--cache-dir=/var/jfsCache-emptyDir:/ssd");
    assertThat(volume(pod, "cachedir-empty-dir").getEmptyDir().getMedium()).isNull();
  }

  @Test
  void without_the_keys_the_pod_is_as_before() {
    Pod pod = pod(Map.of());
    assertThat(pod.getSpec().getServiceAccountName()).isNull();
    assertThat(pod.getSpec().getVolumes())
        .noneMatch(v -> v.getEmptyDir() != null || v.getCsi() != null)
        .noneMatch(v -> v.getName().startsWith("hostpath-"));
    assertThat(command(pod)).doesNotContain("--cache-dir");
  }

  @Test
  void the_preemption_policy_of_the_node_reaches_the_pod() {
    Pod pod = buildWith(config("high", "Never", ""), Map.of());
    assertThat(pod.getSpec().getPreemptionPolicy()).isEqualTo("Never");
    assertThat(pod.getSpec().getPriorityClassName()).isEqualTo("high");
  }

  @Test
  void without_a_key_the_pod_runs_as_the_node_plugins_account_without_its_api_token() {
    KubeRuntimeConfig nodeAccount = config("", "", "jfs-csi-node");
    Pod defaulted = buildWith(nodeAccount, Map.of());
    assertThat(defaulted.getSpec().getServiceAccountName()).isEqualTo("jfs-csi-node");
    assertThat(defaulted.getSpec().getAutomountServiceAccountToken()).isFalse();
    // A volume's own account wins, with its token as the account says (the user chose it).
    Pod named = buildWith(nodeAccount, Map.of("juicefs/mount-service-account", "jfs-mount"));
    assertThat(named.getSpec().getServiceAccountName()).isEqualTo("jfs-mount");
    assertThat(named.getSpec().getAutomountServiceAccountToken()).isNull();
  }

  @Test
  void a_bad_preemption_policy_priority_class_or_account_fails_the_start() {
    assertThatThrownBy(() -> config("", "Sometimes", ""))
        .hasMessageContaining("JUICEFS_MOUNT_PREEMPTION_POLICY")
        .hasMessageContaining("PreemptLowerPriority, Never");
    assertThatThrownBy(() -> config("Not A Class", "", ""))
        .hasMessageContaining("JUICEFS_MOUNT_PRIORITY_NAME");
    assertThatThrownBy(() -> config("", "", "Node Account"))
        .hasMessageContaining("JUICEFS_MOUNT_SERVICE_ACCOUNT");
  }

  private static KubeRuntimeConfig config(
      String priorityClass, String preemptionPolicy, String serviceAccount) {
    return new KubeRuntimeConfig(
        "node-a",
        "jfs",
        "img",
        priorityClass,
        "",
        Duration.ofSeconds(60),
        Duration.ofSeconds(10),
        CONFIG.mountRoot(),
        KubeRuntimeConfig.DEFAULT_CONFIG_MAP,
        preemptionPolicy,
        serviceAccount,
        "");
  }

  private static Pod buildWith(KubeRuntimeConfig config, Map<String, String> context) {
    VolumeSettings s = SettingsParser.parse(source(context, List.of()));
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    return MountPodBuilder.build(
        config,
        new MountPodBuilder.Identity(
            key, "p", MountPodNames.mountPath(config.mountRoot(), key, "abcdef")),
        s,
        MountPodSecret.of("sec", s));
  }

  @Test
  void the_rsa_key_is_a_file_from_the_clients_secret_and_the_passphrase_a_secret_reference() {
    String pem =
        "-----BEGIN RSA PRIVATE KEY-----\nMIIEpodsecretkeybody\n-----END RSA PRIVATE KEY-----\n";
    var src = source(Map.of(), List.of());
    var secrets = new java.util.HashMap<>(src.secrets());
    secrets.put("encrypt_rsa_key", pem);
    secrets.put("passphrase", "pod-pass-phrase");
    VolumeSettings s =
        SettingsParser.parse(
            new io.jfscsi.juicefs.VolumeSource(src.volumeId(), secrets, src.context(), List.of()));
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    MountPodSecret secret = MountPodSecret.of("the-secret", s);
    Pod pod =
        MountPodBuilder.build(
            CONFIG,
            new MountPodBuilder.Identity(
                key, "p", MountPodNames.mountPath(CONFIG.mountRoot(), key, "abcdef")),
            s,
            secret);
    assertThat(secret.data()).containsEntry("encrypt_rsa_key", pem);
    Volume rsa = volume(pod, "rsa-key");
    assertThat(rsa.getSecret().getSecretName()).isEqualTo("the-secret");
    assertThat(rsa.getSecret().getItems().getFirst().getKey()).isEqualTo("encrypt_rsa_key");
    assertThat(rsa.getSecret().getItems().getFirst().getPath()).isEqualTo("rsa-key.pem");
    assertThat(rsa.getSecret().getItems().getFirst().getMode()).isEqualTo(0400);
    assertThat(pod.getSpec().getContainers().getFirst().getVolumeMounts())
        .anySatisfy(
            m -> {
              assertThat(m.getName()).isEqualTo("rsa-key");
              assertThat(m.getMountPath()).isEqualTo("/root/.rsa");
              assertThat(m.getReadOnly()).isTrue();
            });
    assertThat(command(pod)).contains("--encrypt-rsa-key=/root/.rsa/rsa-key.pem");
    assertThat(pod.getSpec().getContainers().getFirst().getEnv())
        .anySatisfy(
            e -> {
              assertThat(e.getName()).isEqualTo("JFS_RSA_PASSPHRASE");
              assertThat(e.getValueFrom().getSecretKeyRef().getName()).isEqualTo("the-secret");
            });
    String spec = io.fabric8.kubernetes.client.utils.Serialization.asJson(pod);
    assertThat(spec).doesNotContain("MIIEpodsecretkeybody", "pod-pass-phrase");
  }

  private static Volume volume(Pod pod, String name) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no volume " + name + " in " + pod.getSpec()));
  }

  private static List<String> mountPaths(Pod pod) {
    return pod.getSpec().getContainers().getFirst().getVolumeMounts().stream()
        .map(VolumeMount::getMountPath)
        .toList();
  }

  private static String command(Pod pod) {
    return pod.getSpec().getContainers().getFirst().getCommand().get(2);
  }
}

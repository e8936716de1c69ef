package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfigParser;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The global ConfigMap's mountPodPatch from YAML to the Mount Pod: selectors, merge, templates. */
class ConfigMapPatchTest {

  static final Path MOUNT = Path.of("/var/lib/juicefs/volume/pv-1-abcdef");

  static GlobalConfig config(String yaml) throws GlobalConfigParser.Refused {
    return GlobalConfigParser.parse(yaml).config();
  }

  static VolumeSettings settings(List<String> flags) {
    return SettingsParser.parse(MountPodBuilderTest.source(Map.of("subPath", "data/dir"), flags));
  }

  /** The pod that a new client of {@code s} gets under {@code patch}, as the runtime builds it. */
  static Pod pod(VolumeSettings s, MountPodPatch patch) {
    MountPodPatch filled = ConfigMapPatches.filled(patch, s, MOUNT);
    VolumeSettings effective =
        filled.mountOptions() == null
            ? s
            : SettingsParser.withMountOptions(s, filled.mountOptions(), "in the test");
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    MountPodSecret secret = MountPodSecret.of(MountPodNames.secretName("node-a", key), effective);
    return MountPodBuilder.build(
        MountPodBuilderTest.CONFIG,
        new MountPodBuilder.Identity(key, "juicefs-node-a-pv-1-abcdef", MOUNT),
        effective,
        secret,
        filled);
  }

  static PersistentVolumeClaim claim(String name, String storageClass, Map<String, String> labels) {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName(name)
        .withNamespace("apps")
        .withLabels(labels)
        .endMetadata()
        .withNewSpec()
        .withStorageClassName(storageClass)
        .endSpec()
        .build();
  }

  static final String EVERY_FIELD =
      """
      mountPodPatch:
        - ceMountImage: juicedata/mount:ce-v1.2.0
          eeMountImage: juicedata/mount:ee-5.1.0
          imagePullPolicy: Always
          labels: {team: storage}
          annotations: {where: "${MOUNT_POINT}"}
          hostNetwork: true
          hostPID: true
          dnsPolicy: ClusterFirstWithHostNet
          dnsConfig: {nameservers: ["10.0.0.10"]}
          livenessProbe: {exec: {command: [stat, "${MOUNT_POINT}/${SUB_PATH}"]}}
          readinessProbe: {exec: {command: [stat, "${MOUNT_POINT}"]}, periodSeconds: 5}
          startupProbe: {tcpSocket: {port: 9567}}
          lifecycle:
            preStop: {exec: {command: [sh, -c, "umount -l ${MOUNT_POINT}"]}}
          resources: {requests: {cpu: 100m, memory: 512Mi}}
          terminationGracePeriodSeconds: 60
          volumes:
            - {name: gc-secret, secret: {secretName: gc-secret}}
          volumeMounts:
            - {name: gc-secret, mountPath: /root/.config/gcloud}
          env:
            - {name: DEMO, value: "fs ${VOLUME_NAME} volume ${VOLUME_ID}"}
          initContainers:
            - {name: prepare, image: busybox, command: [sh, -c, "ls ${MOUNT_POINT}"]}
          mountOptions: [cache-size=2048, writeback_cache]
      """;

  @Test
  void everyFieldOfAPatchReachesTheMountPod() throws Exception {
    VolumeSettings s = settings(List.of("cache-size=100", "max-uploads=5"));
    Pod pod = pod(s, config(EVERY_FIELD).patchFor(Optional.empty(), Optional.empty()));
    Container c = pod.getSpec().getContainers().getFirst();
    assertThat(c.getImage()).isEqualTo("juicedata/mount:ce-v1.2.0");
    assertThat(c.getImagePullPolicy()).isEqualTo("Always");
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("team", "storage")
        .containsEntry(MountPodNames.APP_LABEL, MountPodNames.APP);
    assertThat(pod.getMetadata().getAnnotations()).containsEntry("where", MOUNT.toString());
    assertThat(pod.getSpec().getHostNetwork()).isTrue();
    assertThat(pod.getSpec().getHostPID()).isTrue();
    assertThat(pod.getSpec().getDnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(pod.getSpec().getDnsConfig().getNameservers()).containsExactly("10.0.0.10");
    assertThat(c.getLivenessProbe().getExec().getCommand())
        .containsExactly("stat", MOUNT + "/data/dir");
    assertThat(c.getReadinessProbe().getPeriodSeconds()).isEqualTo(5);
    assertThat(c.getStartupProbe().getTcpSocket().getPort().getIntVal()).isEqualTo(9567);
    assertThat(c.getLifecycle().getPreStop().getExec().getCommand())
        .containsExactly("sh", "-c", "umount -l " + MOUNT);
    assertThat(c.getResources().getRequests()).containsEntry("cpu", new Quantity("100m"));
    assertThat(c.getResources().getLimits()).isNullOrEmpty();
    assertThat(pod.getSpec().getTerminationGracePeriodSeconds()).isEqualTo(60L);
    assertThat(pod.getSpec().getVolumes()).extracting(Volume::getName).contains("gc-secret");
    assertThat(c.getVolumeMounts())
        .extracting(VolumeMount::getMountPath)
        .contains("/root/.config/gcloud");
    assertThat(c.getEnv())
        .filteredOn(e -> e.getName().equals("DEMO"))
        .extracting(EnvVar::getValue)
        .containsExactly("fs myjfs volume pv-1");
    assertThat(pod.getSpec().getInitContainers().getFirst().getCommand())
        .containsExactly("sh", "-c", "ls " + MOUNT);
    String script = c.getCommand().get(2);
    assertThat(script).contains("--cache-size=2048").doesNotContain("--cache-size=100");
    assertThat(script).contains("--max-uploads=5").contains("writeback_cache");
  }

  @Test
  void withoutAConfigMapThePodIsTheSameAsBefore() throws Exception {
    VolumeSettings s = settings(List.of());
    Pod plain = MountPodBuilderTest.build(s);
    Pod none = pod(s, GlobalConfig.DEFAULTS.patchFor(Optional.empty(), Optional.empty()));
    assertThat(none.getSpec().getContainers().getFirst().getCommand())
        .isEqualTo(plain.getSpec().getContainers().getFirst().getCommand());
    assertThat(none.getSpec().getHostNetwork()).isNull();
    assertThat(none.getSpec().getInitContainers()).isEmpty();
  }

  @Test
  void aPatchCannotTakeWhatTheDriverNeeds() throws Exception {
    VolumeSettings s = settings(List.of());
    MountPodPatch patch =
        config(
                """
                mountPodPatch:
                  - labels: {volume-id: other, app.kubernetes.io/name: x}
                    annotations: {juicefs-uniqueid: other}
                    env: [{name: JFS_FOREGROUND, value: "0"}, {name: metaurl, value: "x"}]
                    volumes: [{name: jfs-dir, emptyDir: {}}]
                    volumeMounts: [{name: jfs-dir, mountPath: /x}, {name: missing, mountPath: /y}]
                """)
            .patchFor(Optional.empty(), Optional.empty());
    Pod pod = pod(s, patch);
    assertThat(pod.getMetadata().getLabels())
        .containsEntry(MountPodNames.VOLUME_ID_LABEL, "pv-1")
        .containsEntry(MountPodNames.APP_LABEL, MountPodNames.APP);
    assertThat(pod.getMetadata().getAnnotations()).containsEntry(MountPodNames.UNIQUE_ID, "pv-1");
    Container c = pod.getSpec().getContainers().getFirst();
    assertThat(c.getEnv()).filteredOn(e -> e.getName().equals("JFS_FOREGROUND")).hasSize(1);
    assertThat(c.getEnv())
        .filteredOn(e -> e.getName().equals("metaurl"))
        .allSatisfy(e -> assertThat(e.getValueFrom()).isNotNull());
    assertThat(pod.getSpec().getVolumes())
        .filteredOn(v -> v.getName().equals("jfs-dir"))
        .allSatisfy(v -> assertThat(v.getHostPath()).isNotNull());
    assertThat(c.getVolumeMounts())
        .extracting(VolumeMount::getMountPath)
        .doesNotContain("/x", "/y");
  }

  @Test
  void templateValuesAreDataNotSyntax() throws Exception {
    VolumeSettings s =
        SettingsParser.parse(
            MountPodBuilderTest.source(Map.of("subPath", "a\"b}: c\\\\d"), List.of()));
    MountPodPatch patch =
        config("mountPodPatch:\n  - annotations: {sub: \"[${SUB_PATH}]\"}\n")
            .patchFor(Optional.empty(), Optional.empty());
    Pod pod = pod(s, patch);
    assertThat(pod.getMetadata().getAnnotations()).containsEntry("sub", "[" + s.subPath() + "]");
  }

  @Test
  void cacheDirsOfAPatchReplaceTheDefaultCache() throws Exception {
    VolumeSettings s = settings(List.of());
    MountPodPatch patch =
        config(
                """
                mountPodPatch:
                  - cacheDirs:
                      - {type: HostPath, path: /data/cache}
                      - {type: PVC, name: cache-claim}
                      - {type: EmptyDir, medium: Memory, sizeLimit: 1Gi}
                """)
            .patchFor(Optional.empty(), Optional.empty());
    Pod pod = pod(s, patch);
    List<Volume> volumes = pod.getSpec().getVolumes();
    assertThat(volumes)
        .filteredOn(v -> v.getPersistentVolumeClaim() != null)
        .extracting(v -> v.getPersistentVolumeClaim().getClaimName())
        .containsExactly("cache-claim");
    assertThat(volumes)
        .filteredOn(v -> v.getEmptyDir() != null)
        .extracting(v -> v.getEmptyDir().getMedium())
        .containsExactly("Memory");
    assertThat(volumes)
        .filteredOn(v -> v.getHostPath() != null)
        .extracting(v -> v.getHostPath().getPath())
        .contains("/data/cache")
        .doesNotContain("/var/jfsCache");
    assertThat(pod.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("--cache-dir=/var/jfsCache-0:/var/jfsCache-emptyDir:/data/cache");
  }

  @Test
  void aMountOptionThatJuiceFsRefusesFailsTheStartClearly() {
    VolumeSettings s = settings(List.of());
    assertThatThrownBy(() -> SettingsParser.withMountOptions(s, List.of("writeback"), "in X"))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("writeback");
  }

  static final String SELECTORS =
      """
      mountPodPatch:
        - labels: {all: "yes"}
          terminationGracePeriodSeconds: 11
        - pvcSelector: {matchLabels: {app: web}}
          terminationGracePeriodSeconds: 22
        - pvcSelector:
            matchExpressions: [{key: tier, operator: In, values: [gold]}]
          labels: {tier: gold}
        - pvcSelector: {matchName: special}
          hostPID: true
        - pvcSelector: {matchStorageClassName: fast, matchLabels: {app: web}}
          hostNetwork: true
        - nodeSelector: {disk: ssd}
          dnsPolicy: None
        - nodeSelector: {matchExpressions: [{key: gpu, operator: DoesNotExist}]}
          imagePullPolicy: Never
      """;

  @Test
  void entriesApplyInOrderToTheClaimsAndNodesTheySelect() throws Exception {
    GlobalConfig c = config(SELECTORS);
    MountPodPatch none = c.patchFor(Optional.empty(), Optional.empty());
    assertThat(none.terminationGracePeriodSeconds()).isEqualTo(11L);
    assertThat(none.labels()).isEqualTo(Map.of("all", "yes"));
    assertThat(none.hostPID()).isNull();
    assertThat(none.dnsPolicy()).isNull();

    MountPodPatch web =
        c.patchFor(Optional.of(claim("data", "slow", Map.of("app", "web"))), Optional.empty());
    assertThat(web.terminationGracePeriodSeconds()).isEqualTo(22L);
    assertThat(web.hostNetwork()).isNull();

    MountPodPatch gold =
        c.patchFor(
            Optional.of(claim("data", "slow", Map.of("app", "web", "tier", "gold"))),
            Optional.empty());
    assertThat(gold.labels()).isEqualTo(Map.of("tier", "gold")); // a later entry's labels win
    assertThat(
            c.patchFor(Optional.of(claim("special", "slow", Map.of())), Optional.empty()).hostPID())
        .isTrue();
    assertThat(
            c.patchFor(Optional.of(claim("data", "fast", Map.of("app", "web"))), Optional.empty())
                .hostNetwork())
        .isTrue();
    assertThat(
            c.patchFor(Optional.of(claim("data", "fast", Map.of("app", "db"))), Optional.empty())
                .hostNetwork())
        .as("matchStorageClassName and matchLabels must both hold")
        .isNull();

    MountPodPatch ssd = c.patchFor(Optional.empty(), Optional.of(Map.of("disk", "ssd")));
    assertThat(ssd.dnsPolicy()).isEqualTo("None");
    assertThat(ssd.imagePullPolicy()).isEqualTo("Never");
    MountPodPatch gpu = c.patchFor(Optional.empty(), Optional.of(Map.of("gpu", "a100")));
    assertThat(gpu.dnsPolicy()).isNull();
    assertThat(gpu.imagePullPolicy()).isNull();
  }

  @Test
  void volumesOfSeveralEntriesAddUp() throws Exception {
    MountPodPatch merged =
        config(
                """
                mountPodPatch:
                  - volumes: [{name: a, emptyDir: {}}]
                    volumeMounts: [{name: a, mountPath: /a}]
                  - volumes: [{name: b, emptyDir: {}}, {name: a, hostPath: {path: /other}}]
                    volumeMounts: [{name: b, mountPath: /b}]
                """)
            .patchFor(Optional.empty(), Optional.empty());
    assertThat(merged.volumes()).extracting(Volume::getName).containsExactly("a", "b");
    assertThat(merged.volumes().getFirst().getEmptyDir()).isNotNull();
    assertThat(merged.volumeMounts())
        .extracting(VolumeMount::getMountPath)
        .containsExactly("/a", "/b");
  }

  @Test
  void enableNodeSelectorPlacesThePodByTheHostnameLabel() {
    Pod pod = MountPodBuilderTest.build(settings(List.of()));
    ConfigMapPatch.placeByNodeSelector(pod, "host-a");
    assertThat(pod.getSpec().getNodeName()).isNull();
    assertThat(pod.getSpec().getNodeSelector())
        .isEqualTo(Map.of("kubernetes.io/hostname", "host-a"));
  }
}

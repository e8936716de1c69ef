package io.jfscsi.webhook;

import static io.jfscsi.webhook.SidecarInjectionTest.answer;
import static io.jfscsi.webhook.SidecarInjectionTest.reviewJson;
import static io.jfscsi.webhook.SidecarInjectionTest.suffixes;
import static io.jfscsi.webhook.SidecarInjectionTest.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfigParser;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The global ConfigMap's {@code mountPodPatch} on sidecars: the Go driver's {@code config.yaml},
 * parsed by the driver's parser, and the pod the API server would store after the webhook's answer.
 */
class SidecarPatchTest {
  static final String MOUNT = "/var/lib/juicefs/volume/pvc-web-data-p1";

  static GlobalConfig config(String yaml) {
    try {
      return GlobalConfigParser.parse(yaml).config();
    } catch (GlobalConfigParser.Refused e) {
      throw new AssertionError(e.describe(), e);
    }
  }

  /** The claim web-data as read from the API server, with these labels and StorageClass. */
  static SidecarClaim claim(Map<String, String> labels, String storageClass) {
    SidecarClaim c = SidecarInjectionTest.claim("web-data", List.of(), Map.of());
    PersistentVolumeClaim pvc =
        new PersistentVolumeClaimBuilder()
            .withNewMetadata()
            .withNamespace("apps")
            .withName("web-data")
            .withUid("uid-web-data")
            .withLabels(labels)
            .endMetadata()
            .withNewSpec()
            .withStorageClassName(storageClass)
            .endSpec()
            .build();
    return new SidecarClaim(
        c.namespace(), c.claimName(), c.claimUid(), c.podVolumes(), c.source(), false, pvc);
  }

  static Pod stored(GlobalConfig global, SidecarClaim claim) throws IOException {
    return answer(reviewJson(), List.of(claim), global, suffixes("p1")).stored();
  }

  static Container client(Pod pod) {
    return pod.getSpec().getContainers().getFirst();
  }

  static final String PATCH =
      """
      mountPodPatch:
        - env:
            - {name: EVERY_CLIENT, value: "yes"}
        - pvcSelector:
            matchLabels: {tier: gold}
          ceMountImage: juicedata/mount:ce-v1.3.1-gold
          imagePullPolicy: Always
          env:
            - {name: GOLD, value: "${VOLUME_ID} at ${MOUNT_POINT}"}
          resources:
            requests: {cpu: 500m, memory: 1Gi}
            limits: {memory: 4Gi}
          lifecycle:
            preStop:
              exec:
                command: ["sh", "-c", "+e", "umount -l ${MOUNT_POINT}; exit 0"]
            postStart:
              exec:
                command: ["sh", "-c", "echo not ours"]
          volumes:
            - name: ca
              configMap: {name: company-ca}
          volumeMounts:
            - {name: ca, mountPath: /etc/ssl/company}
          readinessProbe:
            exec:
              command: ["stat", "${MOUNT_POINT}"]
          labels: {team: storage}
          annotations: {juicefs-delete-delay: 5m}
          hostNetwork: true
          dnsPolicy: ClusterFirstWithHostNet
          terminationGracePeriodSeconds: 3600
          initContainers:
            - {name: warm, image: busybox:1.36}
        - pvcSelector:
            matchName: another-claim
          ceMountImage: juicedata/mount:never
        - nodeSelector: {disk: ssd}
          imagePullPolicy: Never
      """;

  @Test
  void anEntryThatSelectsTheClaimShapesItsClientContainerWithItsTemplatesFilledIn()
      throws IOException {
    Pod pod = stored(config(PATCH), claim(Map.of("tier", "gold"), "juicefs-sc"));
    Container c = client(pod);

    assertThat(c.getName()).isEqualTo("jfs-mount");
    assertThat(c.getImage()).isEqualTo("juicedata/mount:ce-v1.3.1-gold");
    // The node is not known at admission: the nodeSelector entry's Never does not apply.
    assertThat(c.getImagePullPolicy()).isEqualTo("Always");
    // A later entry's env replaces an earlier one's, as in the Go driver.
    assertThat(c.getEnv())
        .extracting(EnvVar::getName, EnvVar::getValue)
        .contains(org.assertj.core.groups.Tuple.tuple("GOLD", "pvc-web-data at " + MOUNT))
        .extracting(t -> t.toList().getFirst())
        .doesNotContain("EVERY_CLIENT");
    assertThat(c.getResources().getRequests())
        .containsEntry("cpu", new Quantity("500m"))
        .containsEntry("memory", new Quantity("1Gi"));
    assertThat(c.getResources().getLimits()).containsOnlyKeys("memory");
    assertThat(c.getReadinessProbe().getExec().getCommand()).containsExactly("stat", MOUNT);
    // The ConfigMap's preStop runs before the driver's, which unmounts and removes the mount
    // point; its postStart gives way to the hook that holds the app back.
    assertThat(c.getLifecycle().getPreStop().getExec().getCommand().get(2))
        .startsWith(
            ClientCommand.shellLine(List.of("sh", "-c", "+e", "umount -l " + MOUNT + "; exit 0"))
                + "; ")
        .endsWith(SidecarScripts.stopScript(Path.of(MOUNT)));
    assertThat(c.getLifecycle().getPostStart().getExec().getCommand().get(2))
        .contains("grep -qsF ' " + MOUNT + " ' /proc/mounts");
    // The entry's volume joins the pod's, its mount the client's.
    assertThat(volume(pod, "ca").getConfigMap().getName()).isEqualTo("company-ca");
    assertThat(c.getVolumeMounts())
        .extracting(VolumeMount::getName, VolumeMount::getMountPath)
        .contains(org.assertj.core.groups.Tuple.tuple("ca", "/etc/ssl/company"));
  }

  @Test
  void thePodsOwnFieldsStayTheAppsAsInTheGoDriver() throws IOException {
    Pod pod = stored(config(PATCH), claim(Map.of("tier", "gold"), "juicefs-sc"));

    assertThat(pod.getMetadata().getLabels())
        .doesNotContainKey("team")
        .containsEntry("app", "web")
        .containsEntry(SidecarInjection.DONE_LABEL, "true");
    assertThat(pod.getMetadata().getAnnotations()).isNullOrEmpty();
    assertThat(pod.getSpec().getHostNetwork()).isNull();
    assertThat(pod.getSpec().getDnsPolicy()).isNull();
    assertThat(pod.getSpec().getTerminationGracePeriodSeconds()).isNull();
    assertThat(pod.getSpec().getInitContainers()).isNullOrEmpty();
    assertThat(pod.getSpec().getContainers())
        .extracting(Container::getName)
        .containsExactly("jfs-mount", "app");
  }

  @Test
  void aClaimNoEntrySelectsGetsOnlyTheEntriesWithoutSelector() throws IOException {
    Pod pod = stored(config(PATCH), claim(Map.of("tier", "silver"), "juicefs-sc"));
    Container c = client(pod);

    assertThat(c.getImage()).isEqualTo("juicedata/mount:ce-v1.3.0");
    assertThat(c.getImagePullPolicy()).isNull();
    assertThat(c.getEnv())
        .extracting(EnvVar::getName)
        .contains("EVERY_CLIENT")
        .doesNotContain("GOLD");
    assertThat(c.getLifecycle().getPreStop().getExec().getCommand().get(2))
        .isEqualTo(SidecarScripts.stopScript(Path.of(MOUNT)));
    assertThat(pod.getSpec().getVolumes()).extracting(v -> v.getName()).doesNotContain("ca");
  }

  @Test
  void selectorsByNameAndStorageClassSeeTheClaimAsRead() throws IOException {
    GlobalConfig global =
        config(
            """
            mountPodPatch:
              - pvcSelector: {matchStorageClassName: juicefs-fast}
                ceMountImage: juicedata/mount:fast
              - pvcSelector: {matchName: web-data}
                imagePullPolicy: IfNotPresent
            """);
    Container fast = client(stored(global, claim(Map.of(), "juicefs-fast")));
    assertThat(fast.getImage()).isEqualTo("juicedata/mount:fast");
    assertThat(fast.getImagePullPolicy()).isEqualTo("IfNotPresent");

    Container other = client(stored(global, claim(Map.of(), "juicefs-sc")));
    assertThat(other.getImage()).isEqualTo("juicedata/mount:ce-v1.3.0");
    assertThat(other.getImagePullPolicy()).isEqualTo("IfNotPresent");
  }

  @Test
  void theConfigMapsMountOptionsAndCacheDirsReachTheClientsCommand() throws IOException {
    GlobalConfig global =
        config(
            """
            mountPodPatch:
              - mountOptions: [cache-size=204800, "metrics=0.0.0.0:9600"]
                cacheDirs:
                  - {type: HostPath, path: /mnt/ssd/jfs}
            """);
    Pod pod = stored(global, claim(Map.of(), "juicefs-sc"));
    Container c = client(pod);

    String command = c.getCommand().get(2);
    assertThat(command)
        .contains("--cache-size=204800")
        .contains("--cache-dir=/mnt/ssd/jfs")
        .contains("--metrics=0.0.0.0:9600")
        .doesNotContain("--metrics=0.0.0.0:9567");
    assertThat(pod.getSpec().getVolumes())
        .filteredOn(v -> v.getHostPath() != null)
        .anySatisfy(v -> assertThat(v.getHostPath().getPath()).isEqualTo("/mnt/ssd/jfs"));
    assertThat(c.getVolumeMounts()).extracting(VolumeMount::getMountPath).contains("/mnt/ssd/jfs");
  }

  @Test
  void aMountOptionOfTheConfigMapThatTheDriverRefusesRefusesThePod() throws IOException {
    // The parser refuses such a ConfigMap version; a GlobalConfig made otherwise is refused here.
    GlobalConfig parsed = config("mountPodPatch: [{pvcSelector: {matchName: web-data}}]");
    var entry = parsed.mountPodPatch().getFirst();
    var refused =
        new io.jfscsi.runtime.kube.configmap.MountPodPatch(
            entry.pvcSelector(),
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            null,
            List.of("writeback"),
            null);
    GlobalConfig global = new GlobalConfig(parsed.switches(), List.of(refused));

    var a = answer(reviewJson(), List.of(claim(Map.of(), "")), global, suffixes("p1"));
    assertThat(a.response().get("allowed").asBoolean()).isFalse();
    assertThat(a.response().has("patch")).isFalse();
    assertThat(a.response().get("status").get("message").asString())
        .startsWith(
            "JuiceFS claim apps/web-data (volume pvc-web-data) cannot be mounted in a sidecar")
        .contains("writeback")
        .contains("mountPodPatch");
  }
}

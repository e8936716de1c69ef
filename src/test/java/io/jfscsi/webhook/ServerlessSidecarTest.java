package io.jfscsi.webhook;

import static io.jfscsi.webhook.SidecarInjectionTest.answer;
import static io.jfscsi.webhook.SidecarInjectionTest.claim;
import static io.jfscsi.webhook.SidecarInjectionTest.reviewJson;
import static io.jfscsi.webhook.SidecarInjectionTest.suffixes;
import static io.jfscsi.webhook.SidecarInjectionTest.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.webhook.SidecarInjectionTest.Answer;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The serverless webhook's shapes on real AdmissionReview JSON, as the Go driver's serverless
 * builders make them: generic (no hostPath but the mount root's), VCI (chosen by the pod's
 * annotation) and CCI (chosen by its label). Checked on the pod the API server would store; VCI and
 * CCI are not run on those clouds.
 */
class ServerlessSidecarTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static SidecarInjection.Mode serverless(Pod pod) {
    return new SidecarInjection.Mode(SidecarVariant.of(pod, true), false);
  }

  static Answer serverlessAnswer(String review, SidecarClaim claim, String suffix) {
    Pod posted = AdmissionReviews.pod(AdmissionReviews.parse(review).getRequest());
    return answer(review, List.of(claim), suffixes(suffix), serverless(posted));
  }

  static String withMetadata(String json) throws IOException {
    return reviewJson().replace("\"labels\": {\"app\": \"web\"}", json);
  }

  static String vciReview(String extraAnnotation) throws IOException {
    return withMetadata(
        "\"labels\": {\"app\": \"web\"}, \"annotations\": {\""
            + SidecarVariant.VCI_KEY
            + "\": \"enforce\""
            + extraAnnotation
            + "}");
  }

  static List<Volume> hostPaths(Pod pod) {
    return pod.getSpec().getVolumes().stream().filter(v -> v.getHostPath() != null).toList();
  }

  static String env(Container c, String name) {
    return c.getEnv().stream()
        .filter(e -> e.getName().equals(name))
        .map(EnvVar::getValue)
        .findFirst()
        .orElse(null);
  }

  @Test
  void theVariantIsChosenOnlyOnTheServerlessRouteByTheGoDriversAnnotationAndLabel()
      throws IOException {
    Pod vci = AdmissionReviews.pod(AdmissionReviews.parse(vciReview("")).getRequest());
    Pod cci =
        AdmissionReviews.pod(
            AdmissionReviews.parse(
                    withMetadata(
                        "\"labels\": {\"app\": \"web\", \""
                            + SidecarVariant.CCI_KEY
                            + "\": \"enforce\"}"))
                .getRequest());
    Pod plain = AdmissionReviews.pod(AdmissionReviews.parse(reviewJson()).getRequest());
    assertThat(SidecarVariant.of(vci, true)).isEqualTo(SidecarVariant.VCI);
    assertThat(SidecarVariant.of(cci, true)).isEqualTo(SidecarVariant.CCI);
    assertThat(SidecarVariant.of(plain, true)).isEqualTo(SidecarVariant.SERVERLESS);
    assertThat(SidecarVariant.of(vci, false)).isEqualTo(SidecarVariant.HOST);
  }

  @Test
  void genericServerlessKeepsOnlyTheMountRootsHostPathAndStaysPrivileged() throws IOException {
    Pod host =
        answer(reviewJson(), List.of(claim("web-data", List.of(), Map.of())), suffixes("h1"))
            .stored();
    assertThat(hostPaths(host)).extracting(Volume::getName).contains("cachedir-0");

    Pod pod = serverlessAnswer(reviewJson(), claim("web-data", List.of(), Map.of()), "s1").stored();
    Container client = pod.getSpec().getContainers().getFirst();
    assertThat(client.getName()).isEqualTo("jfs-mount");
    assertThat(client.getSecurityContext().getPrivileged()).isTrue();
    assertThat(hostPaths(pod))
        .extracting(Volume::getName)
        .containsExactlyInAnyOrder("data", "jfs-dir");
    assertThat(client.getVolumeMounts())
        .extracting(VolumeMount::getName)
        .doesNotContain("cachedir-0")
        .contains("jfs-dir");
    assertThat(volume(pod, "data").getHostPath().getPath())
        .isEqualTo("/var/lib/juicefs/volume/pvc-web-data-s1");
  }

  @Test
  void vciSharesTheMountThroughAnEmptyDirWithoutHostPathOrPrivilege() throws IOException {
    String existing =
        ", \""
            + ServerlessShape.VCI_PROPAGATION
            + "\": \"[{\\\"container\\\":\\\"app\\\",\\\"mountPath\\\":\\\"/out\\\"}]\"";
    SidecarClaim c = claim("web-data", List.of(), Map.of("subPath", "team/a"));
    Answer a = serverlessAnswer(vciReview(existing), c, "v1");
    Pod pod = a.stored();

    assertThat(hostPaths(pod)).isEmpty();
    assertThat(volume(pod, "data").getEmptyDir()).isNotNull();
    Container client = pod.getSpec().getContainers().getFirst();
    assertThat(client.getName()).isEqualTo("jfs-mount-web-data");
    assertThat(client.getSecurityContext().getPrivileged()).isNull();
    assertThat(client.getSecurityContext().getRunAsUser()).isZero();
    assertThat(env(client, "JFS_NO_UMOUNT")).isEqualTo("1");
    String mountPath = "/jfs/pvc-web-data-v1";
    assertThat(client.getVolumeMounts())
        .anySatisfy(
            m -> {
              assertThat(m.getName()).isEqualTo("data");
              assertThat(m.getMountPath()).isEqualTo(mountPath);
            });
    // The client mounts the sub-path itself: the app's emptyDir is the sub-directory.
    assertThat(client.getCommand().get(2))
        .contains("--subdir=team/a")
        .contains("\"${metaurl}\" " + mountPath + " & pid=$!");
    assertThat(client.getLifecycle().getPostStart().getExec().getCommand().get(2))
        .contains("grep -qsF ' " + mountPath + " ' /proc/mounts")
        .doesNotContain("team/a");
    Container app = pod.getSpec().getContainers().get(1);
    assertThat(app.getVolumeMounts().getFirst().getMountPropagation()).isEqualTo("HostToContainer");

    Map<String, String> annotations = pod.getMetadata().getAnnotations();
    assertThat(annotations)
        .containsEntry(
            ServerlessShape.VCI_PROPAGATION_SWITCH, ServerlessShape.VCI_PROPAGATION_SWITCH);
    JsonNode propagation = MAPPER.readTree(annotations.get(ServerlessShape.VCI_PROPAGATION));
    assertThat(propagation).hasSize(2);
    assertThat(propagation.get(0).get("container").asString()).isEqualTo("jfs-mount-web-data");
    assertThat(propagation.get(0).get("mountPath").asString()).isEqualTo(mountPath);
    assertThat(propagation.get(1).get("container").asString())
        .as("the pod's own entry is kept")
        .isEqualTo("app");
  }

  @Test
  void vciRefusesAPropagationAnnotationItCannotReadRatherThanLoseIt() throws IOException {
    Answer a =
        serverlessAnswer(
            vciReview(", \"" + ServerlessShape.VCI_PROPAGATION + "\": \"not json\""),
            claim("web-data", List.of(), Map.of()),
            "v2");
    assertThat(a.response().get("allowed").asBoolean()).isFalse();
    assertThat(a.response().get("status").get("message").asString())
        .contains(ServerlessShape.VCI_PROPAGATION)
        .contains("JSON list");
  }

  @Test
  void cciHandsTheMountPointToCcisCsiDriverWithSysAdminAndNoHostPath() throws IOException {
    String review =
        withMetadata(
            "\"labels\": {\"app\": \"web\", \"" + SidecarVariant.CCI_KEY + "\": \"enforce\"}");
    Pod pod = serverlessAnswer(review, claim("web-data", List.of(), Map.of()), "c1").stored();

    assertThat(hostPaths(pod)).isEmpty();
    Volume data = volume(pod, "data");
    assertThat(data.getCsi().getDriver()).isEqualTo("juicefs.csi.everest.io");
    assertThat(data.getCsi().getFsType()).isEqualTo("gpath");
    assertThat(data.getCsi().getVolumeAttributes()).containsEntry("mountpoint", "pvc-web-data-c1");
    Container client = pod.getSpec().getContainers().getFirst();
    assertThat(client.getName()).isEqualTo("jfs-mount");
    assertThat(client.getSecurityContext().getPrivileged()).isNull();
    assertThat(client.getSecurityContext().getCapabilities().getAdd())
        .containsExactly("SYS_ADMIN", "MKNOD");
    assertThat(env(client, "JUICEFS_CLIENT_PATH")).isEqualTo("/jfs");
    assertThat(env(client, "JUICEFS_CLIENT_SIDERCAR_CONTAINER")).isEqualTo("true");
    assertThat(client.getCommand().get(2)).contains(" /jfs/pvc-web-data-c1 & pid=$!");
    assertThat(
            pod.getSpec().getContainers().get(1).getVolumeMounts().getFirst().getMountPropagation())
        .isEqualTo("None");
    assertThat(pod.getMetadata().getAnnotations()).isNullOrEmpty();
  }

  @Test
  void serverlessAndNativeCombine() throws IOException {
    Pod pod =
        answer(
                reviewJson(),
                List.of(claim("web-data", List.of(), Map.of())),
                suffixes("sn"),
                new SidecarInjection.Mode(SidecarVariant.SERVERLESS, true))
            .stored();
    assertThat(pod.getSpec().getInitContainers())
        .singleElement()
        .satisfies(c -> assertThat(c.getRestartPolicy()).isEqualTo("Always"));
    assertThat(hostPaths(pod))
        .extracting(Volume::getName)
        .containsExactlyInAnyOrder("data", "jfs-dir");
  }
}

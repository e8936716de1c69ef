package io.jfscsi.webhook;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;
import tools.jackson.databind.node.ObjectNode;

/**
 * The sidecar webhook's decision on real AdmissionReview JSON (as the API server posts it), with
 * the claims it would read given as data: the answer is decoded and its JSONPatch applied to the
 * posted pod, so what is checked is the pod the API server would store.
 */
class SidecarInjectionTest {
  static final KubeRuntimeConfig CONFIG =
      new KubeRuntimeConfig(
          "sidecar",
          "kube-system",
          "juicedata/mount:ce-v1.3.0",
          "",
          "",
          Duration.ofSeconds(90),
          Duration.ofSeconds(30),
          Path.of("/var/lib/juicefs/volume"));

  static final String PASSWORD = "pa55-in-url";
  static final String SECRET_KEY = "s3cr3t-key-value";
  private static final ObjectMapper MAPPER = new ObjectMapper();

  static String reviewJson() throws IOException {
    try (InputStream in =
        SidecarInjectionTest.class.getResourceAsStream("/webhook/pod-create-review.json")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  static SidecarClaim claim(String name, List<String> flags, Map<String, String> context) {
    return new SidecarClaim(
        "apps",
        name,
        "uid-" + name,
        List.of("data"),
        new VolumeSource(
            "pvc-" + name,
            Map.of(
                "name",
                "myjfs",
                "metaurl",
                "redis://:" + PASSWORD + "@redis.apps:6379/1",
                "storage",
                "s3",
                "bucket",
                "https://bucket.s3.amazonaws.com",
                "access-key",
                "AKIA",
                "secret-key",
                SECRET_KEY),
            context,
            flags),
        false);
  }

  static Supplier<String> suffixes(String... s) {
    Deque<String> q = new ArrayDeque<>(List.of(s));
    return q::removeFirst;
  }

  /** The answer to the posted review, and the pod the API server would store after it. */
  record Answer(String json, JsonNode response, Pod stored) {}

  static Answer answer(String review, List<SidecarClaim> claims, Supplier<String> suffixes) {
    return answer(review, claims, suffixes, SidecarInjection.Mode.PLAIN);
  }

  static Answer answer(
      String review,
      List<SidecarClaim> claims,
      Supplier<String> suffixes,
      SidecarInjection.Mode mode) {
    return answer(review, claims, GlobalConfig.DEFAULTS, suffixes, mode);
  }

  /** As above, with {@code global} as the ConfigMap in force. */
  static Answer answer(
      String review, List<SidecarClaim> claims, GlobalConfig global, Supplier<String> suffixes) {
    return answer(review, claims, global, suffixes, SidecarInjection.Mode.PLAIN);
  }

  static Answer answer(
      String review,
      List<SidecarClaim> claims,
      GlobalConfig global,
      Supplier<String> suffixes,
      SidecarInjection.Mode mode) {
    AdmissionReview in = AdmissionReviews.parse(review);
    Pod pod = AdmissionReviews.pod(in.getRequest());
    SidecarInjection.Outcome outcome =
        SidecarInjection.decide(pod, claims, CONFIG, global, suffixes, mode);
    String json =
        AdmissionReviews.JSON.asJson(AdmissionReviews.respond(in.getRequest(), pod, outcome));
    JsonNode response = MAPPER.readTree(json).get("response");
    ObjectNode stored = (ObjectNode) MAPPER.readTree(review).get("request").get("object");
    if (response.has("patch")) {
      String patch =
          new String(
              Base64.getDecoder().decode(response.get("patch").asString()), StandardCharsets.UTF_8);
      for (JsonNode op : MAPPER.readTree(patch)) {
        assertThat(op.get("op").asString()).isEqualTo("add");
        String[] path = op.get("path").asString().substring(1).split("/");
        ObjectNode parent = stored;
        for (int i = 0; i < path.length - 1; i++) {
          parent = (ObjectNode) parent.get(path[i]);
        }
        parent.set(path[path.length - 1], op.get("value"));
      }
    }
    return new Answer(
        json, response, AdmissionReviews.JSON.unmarshal(stored.toString(), Pod.class));
  }

  @Test
  void aPodWithAJuiceFsClaimGetsItsClientBeforeItsContainersAndItsVolumeBecomesTheMount()
      throws IOException {
    Answer a =
        answer(reviewJson(), List.of(claim("web-data", List.of(), Map.of())), suffixes("abc123"));

    assertThat(a.response().get("uid").asString())
        .isEqualTo("705ab4f5-6393-11e8-b7cc-42010a800002");
    assertThat(a.response().get("allowed").asBoolean()).isTrue();
    assertThat(a.response().get("patchType").asString()).isEqualTo("JSONPatch");
    Pod pod = a.stored();
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("app", "web")
        .containsEntry(SidecarInjection.DONE_LABEL, "true");
    List<Container> containers = pod.getSpec().getContainers();
    assertThat(containers).extracting(Container::getName).containsExactly("jfs-mount", "app");
    Container client = containers.getFirst();
    assertThat(client.getImage()).isEqualTo("juicedata/mount:ce-v1.3.0");
    assertThat(client.getSecurityContext().getPrivileged()).isTrue();
    Path mountPath = Path.of("/var/lib/juicefs/volume/pvc-web-data-abc123");
    assertThat(client.getCommand().get(2))
        .startsWith("mkdir -p " + mountPath + " && juicefs format")
        .contains("&& { juicefs mount")
        .contains("--metrics=0.0.0.0:9567")
        .contains("\"${metaurl}\" " + mountPath + " & pid=$!")
        .endsWith("rmdir " + mountPath + " 2>/dev/null; exit $rc; }");
    // The app waits for the mount: kubelet starts it only after this hook returns.
    assertThat(client.getLifecycle().getPostStart().getExec().getCommand().get(2))
        .contains("grep -qsF ' " + mountPath + " ' /proc/mounts")
        .contains("-ge 90 ]")
        .contains("mkdir -p " + mountPath);
    assertThat(client.getVolumeMounts())
        .anySatisfy(
            m -> {
              assertThat(m.getMountPath()).isEqualTo("/var/lib/juicefs/volume");
              assertThat(m.getMountPropagation()).isEqualTo("Bidirectional");
            });
    // Secret values reach the client through its Secret, never in the pod spec or the answer.
    assertThat(client.getEnv())
        .filteredOn(e -> e.getName().equals("SECRET_KEY"))
        .singleElement()
        .satisfies(
            e ->
                assertThat(e.getValueFrom().getSecretKeyRef().getName())
                    .isEqualTo("web-data-jfs-secret"));
    assertThat(a.json()).doesNotContain(SECRET_KEY).doesNotContain(PASSWORD).doesNotContain("AKIA");

    Volume data = volume(pod, "data");
    assertThat(data.getPersistentVolumeClaim()).isNull();
    assertThat(data.getHostPath().getPath()).isEqualTo(mountPath.toString());
    assertThat(data.getHostPath().getType()).isNull();
    assertThat(volume(pod, "jfs-dir").getHostPath().getPath()).isEqualTo("/var/lib/juicefs/volume");
    assertThat(volume(pod, "kube-api-access-x1").getProjected()).isNotNull();
    assertThat(containers.get(1).getVolumeMounts().getFirst().getReadOnly()).isNull();
  }

  @Test
  void eachClaimsSecretIsWrittenInThePodsNamespaceOwnedByTheClaim() throws IOException {
    AdmissionReview in = AdmissionReviews.parse(reviewJson());
    Pod pod = AdmissionReviews.pod(in.getRequest());
    var outcome =
        (SidecarInjection.Outcome.Injected)
            SidecarInjection.decide(
                pod, List.of(claim("web-data", List.of(), Map.of())), CONFIG, suffixes("s1"));
    assertThat(outcome.secrets())
        .singleElement()
        .satisfies(
            s -> {
              assertThat(s.getMetadata().getName()).isEqualTo("web-data-jfs-secret");
              assertThat(s.getMetadata().getNamespace()).isEqualTo("apps");
              assertThat(s.getMetadata().getOwnerReferences().getFirst().getUid())
                  .isEqualTo("uid-web-data");
              assertThat(s.getStringData()).containsValue(SECRET_KEY);
            });
  }

  @Test
  void aSubPathIsMadeInTheMountAndIsWhatTheAppSeesReadOnlyWhenTheClaimVolumeIsReadOnly()
      throws IOException {
    SidecarClaim c = claim("web-data", List.of(), Map.of("subPath", "team/a"));
    SidecarClaim readOnly =
        new SidecarClaim(
            c.namespace(), c.claimName(), c.claimUid(), c.podVolumes(), c.source(), true);
    Pod pod = answer(reviewJson(), List.of(readOnly), suffixes("s2")).stored();
    String mount = "/var/lib/juicefs/volume/pvc-web-data-s2";
    assertThat(volume(pod, "data").getHostPath().getPath()).isEqualTo(mount + "/team/a");
    assertThat(
            pod.getSpec()
                .getContainers()
                .getFirst()
                .getLifecycle()
                .getPostStart()
                .getExec()
                .getCommand()
                .get(2))
        .contains("mkdir -p " + mount + "/team/a && stat " + mount + "/team/a");
    assertThat(pod.getSpec().getContainers().get(1).getVolumeMounts().getFirst().getReadOnly())
        .isTrue();
  }

  @Test
  void aMetricsPortTheVolumeNamesIsTheContainersNamedPort() throws IOException {
    Pod pod =
        answer(
                reviewJson(),
                List.of(claim("web-data", List.of("metrics=0.0.0.0:9999"), Map.of())),
                suffixes("a1"))
            .stored();
    Container client = pod.getSpec().getContainers().getFirst();
    assertThat(client.getCommand().get(2)).contains("--metrics=0.0.0.0:9999");
    assertThat(client.getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getName()).isEqualTo("metrics");
              assertThat(p.getContainerPort()).isEqualTo(9999);
            });
  }

  @Test
  void twoClaimsGetTwoClientsWithNamesPortsAndMountPointsOfTheirOwn() throws IOException {
    String review =
        reviewJson()
            .replace(
                "{\"name\": \"data\", \"persistentVolumeClaim\": {\"claimName\": \"web-data\"}},",
                "{\"name\": \"data\", \"persistentVolumeClaim\": {\"claimName\": \"web-data\"}},"
                    + " {\"name\": \"logs\", \"persistentVolumeClaim\": {\"claimName\": \"web-logs\"}},");
    SidecarClaim logs = claim("web-logs", List.of(), Map.of());
    logs = new SidecarClaim("apps", "web-logs", "uid-l", List.of("logs"), logs.source(), false);
    Pod pod =
        answer(review, List.of(claim("web-data", List.of(), Map.of()), logs), suffixes("a1", "b2"))
            .stored();
    List<Container> c = pod.getSpec().getContainers();
    assertThat(c).extracting(Container::getName).containsExactly("jfs-mount", "jfs-mount-1", "app");
    assertThat(c.get(1).getCommand().get(2)).contains("--metrics=0.0.0.0:9568");
    assertThat(c.get(1).getPorts().getFirst().getContainerPort()).isEqualTo(9568);
    assertThat(volume(pod, "logs").getHostPath().getPath())
        .isEqualTo("/var/lib/juicefs/volume/pvc-web-logs-b2");
    assertThat(c.get(1).getVolumeMounts())
        .anySatisfy(m -> assertThat(m.getName()).isEqualTo("jfs-dir-1"));
    List<String> names = pod.getSpec().getVolumes().stream().map(Volume::getName).toList();
    assertThat(names).doesNotHaveDuplicates();
  }

  @Test
  void aSettingTheDriverRefusesRefusesThePodWithTheSameMessageAndNoSecret() throws IOException {
    Answer a =
        answer(
            reviewJson(),
            List.of(claim("web-data", List.of("writeback"), Map.of())),
            suffixes("x"));
    assertThat(a.response().get("allowed").asBoolean()).isFalse();
    assertThat(a.response().has("patch")).isFalse();
    assertThat(a.response().get("status").get("code").asInt()).isEqualTo(400);
    assertThat(a.response().get("status").get("message").asString())
        .startsWith(
            "JuiceFS claim apps/web-data (volume pvc-web-data) cannot be mounted in a sidecar")
        .contains("writeback");
    assertThat(a.json()).doesNotContain(SECRET_KEY).doesNotContain(PASSWORD);
  }

  @Test
  void aPodWithoutJuiceFsVolumesOptedOutOrInjectedAlreadyIsAllowedUnchanged() throws IOException {
    Answer none = answer(reviewJson(), List.of(), suffixes());
    assertThat(none.response().get("allowed").asBoolean()).isTrue();
    assertThat(none.response().has("patch")).isFalse();

    for (String label : List.of(SidecarInjection.DISABLE_LABEL, SidecarInjection.DONE_LABEL)) {
      String review =
          reviewJson()
              .replace("{\"app\": \"web\"}", "{\"app\": \"web\", \"" + label + "\": \"true\"}");
      Answer a = answer(review, List.of(claim("web-data", List.of(), Map.of())), suffixes("z"));
      assertThat(a.response().get("allowed").asBoolean()).as(label).isTrue();
      assertThat(a.response().has("patch")).as(label).isFalse();
      assertThat(a.stored().getSpec().getContainers())
          .extracting(Container::getName)
          .containsExactly("app");
    }
  }

  @Test
  void aBodyThatIsNotAReviewIsAClearError() {
    assertThat(AdmissionReviews.JSON.asJson(AdmissionReviews.error("", 400, "x")))
        .contains("\"allowed\":false");
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> AdmissionReviews.parse("{\"kind\":\"Pod\"}"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("no request with a uid");
  }

  static Volume volume(Pod pod, String name) {
    return pod.getSpec().getVolumes().stream()
        .filter(v -> v.getName().equals(name))
        .findFirst()
        .orElseThrow();
  }
}

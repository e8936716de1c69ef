package io.jfscsi.webhook;

import static io.jfscsi.webhook.SidecarInjectionTest.answer;
import static io.jfscsi.webhook.SidecarInjectionTest.claim;
import static io.jfscsi.webhook.SidecarInjectionTest.reviewJson;
import static io.jfscsi.webhook.SidecarInjectionTest.suffixes;
import static io.jfscsi.webhook.SidecarInjectionTest.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/**
 * Native sidecars: when they are used (the ConfigMap's switch and the API server's version, as the
 * Go driver decides), and the pod they make from a real AdmissionReview. The API server of the
 * tests is 1.20, which drops {@code restartPolicy} from a container: the shape is checked here, on
 * the patched pod, and no test runs it on a kubelet of 1.29 or newer.
 */
class NativeSidecarsTest {
  static final SidecarInjection.Mode NATIVE = new SidecarInjection.Mode(SidecarVariant.HOST, true);

  static VersionInfo version(String major, String minor) {
    return new VersionInfo.Builder()
        .withMajor(major)
        .withMinor(minor)
        .withGitVersion("v" + major + "." + minor.replace("+", "") + ".0")
        .build();
  }

  @Test
  void theyNeedAnApiServerOfOneTwentyNineOrNewer() {
    assertThat(NativeSidecars.supported("1", "20")).isFalse();
    assertThat(NativeSidecars.supported("1", "28")).isFalse();
    assertThat(NativeSidecars.supported("1", "29")).isTrue();
    assertThat(NativeSidecars.supported("1", "30+")).as("a cloud's minor").isTrue();
    assertThat(NativeSidecars.supported("2", "0")).isTrue();
    assertThat(NativeSidecars.supported("", "")).isFalse();
  }

  @Test
  void theyAreUsedOnlyWhenTheSwitchIsOnAndTheApiServerHasThem() {
    AtomicInteger asked = new AtomicInteger();
    NativeSidecars off =
        new NativeSidecars(
            () -> false,
            () -> {
              asked.incrementAndGet();
              return version("1", "30");
            });
    assertThat(off.inUse()).isFalse();
    assertThat(asked).as("the version is not asked while the switch is off").hasValue(0);

    assertThat(new NativeSidecars(() -> true, () -> version("1", "20")).inUse()).isFalse();
    assertThat(new NativeSidecars(() -> true, () -> version("1", "29")).inUse()).isTrue();
    assertThat(
            new NativeSidecars(
                    () -> true,
                    () -> {
                      throw new KubernetesClientException("connection refused");
                    })
                .inUse())
        .as("an unknown version: plain sidecars, which every version runs")
        .isFalse();
  }

  @Test
  void aNativeClientIsAnInitContainerThatRestartsAlwaysBeforeTheInitContainersThatUseItsVolume()
      throws IOException {
    String review =
        reviewJson()
            .replace(
                "\"containers\": [",
                "\"initContainers\": ["
                    + "{\"name\": \"net\", \"image\": \"busybox:1.36\"},"
                    + "{\"name\": \"seed\", \"image\": \"busybox:1.36\","
                    + " \"volumeMounts\": [{\"name\": \"data\", \"mountPath\": \"/data\"}]}],"
                    + " \"containers\": [");
    Pod pod =
        answer(review, List.of(claim("web-data", List.of(), Map.of())), suffixes("n1"), NATIVE)
            .stored();

    List<Container> inits = pod.getSpec().getInitContainers();
    assertThat(inits).extracting(Container::getName).containsExactly("net", "jfs-mount", "seed");
    Container client = inits.get(1);
    assertThat(client.getRestartPolicy()).isEqualTo("Always");
    // kubelet starts the next init container only once this hook has returned: the mount answers.
    assertThat(client.getLifecycle().getPostStart().getExec().getCommand().get(2))
        .contains("grep -qsF ' /var/lib/juicefs/volume/pvc-web-data-n1 ' /proc/mounts");
    assertThat(client.getSecurityContext().getPrivileged()).isTrue();
    assertThat(inits.get(0).getRestartPolicy()).isNull();
    assertThat(inits.get(2).getRestartPolicy()).isNull();
    assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
    assertThat(volume(pod, "data").getHostPath().getPath())
        .isEqualTo("/var/lib/juicefs/volume/pvc-web-data-n1");
  }

  @Test
  void withoutInitContainersTheNativeClientsComeInClaimOrder() throws IOException {
    String review =
        reviewJson()
            .replace(
                "{\"name\": \"data\", \"persistentVolumeClaim\": {\"claimName\": \"web-data\"}},",
                "{\"name\": \"data\", \"persistentVolumeClaim\": {\"claimName\": \"web-data\"}},"
                    + " {\"name\": \"logs\", \"persistentVolumeClaim\": {\"claimName\": \"web-logs\"}},");
    SidecarClaim logs = claim("web-logs", List.of(), Map.of());
    logs = new SidecarClaim("apps", "web-logs", "uid-l", List.of("logs"), logs.source(), false);
    Pod pod =
        answer(
                review,
                List.of(claim("web-data", List.of(), Map.of()), logs),
                suffixes("a1", "b2"),
                NATIVE)
            .stored();
    assertThat(pod.getSpec().getInitContainers())
        .extracting(Container::getName, Container::getRestartPolicy)
        .containsExactly(
            org.assertj.core.groups.Tuple.tuple("jfs-mount", "Always"),
            org.assertj.core.groups.Tuple.tuple("jfs-mount-1", "Always"));
    assertThat(pod.getSpec().getContainers()).extracting(Container::getName).containsExactly("app");
  }

  @Test
  void offTheClientsArePlainContainersAndNoInitContainerIsPatched() throws IOException {
    var a =
        answer(
            reviewJson(),
            List.of(claim("web-data", List.of(), Map.of())),
            suffixes("p1"),
            SidecarInjection.Mode.PLAIN);
    assertThat(a.stored().getSpec().getInitContainers()).isNullOrEmpty();
    assertThat(a.stored().getSpec().getContainers().getFirst().getRestartPolicy()).isNull();
  }
}

package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class VolumeContextTest {

  @ParameterizedTest(name = "subPath \"{0}\" is \"{1}\"")
  @CsvSource({
    "pvc-123, pvc-123",
    "a/b/c, a/b/c",
    "/pvc-123, pvc-123",
    "a//b/./c/, a/b/c",
    "'', ''",
    "/, ''",
    "with space, with space"
  })
  void subPath_is_relative_and_normalized(String given, String used) {
    assertThat(volume().context("subPath", given).parse().subPath()).isEqualTo(used);
  }

  @ParameterizedTest
  @ValueSource(strings = {"..", "a/../../b", "../x", "a/..", "a\u0000b"})
  void subPath_may_not_leave_the_file_system_root(String given) {
    assertThat(volume().context("subPath", given).refusal()).contains("'subPath'");
  }

  @ParameterizedTest(name = "delay {0}")
  @CsvSource({"30s, 30000", "1m30s, 90000", "1h, 3600000", "500ms, 500", "0, 0"})
  void mount_delete_delay_is_a_go_duration(String given, long millis) {
    assertThat(volume().context("juicefs/mount-delete-delay", given).parse().deleteDelay())
        .isEqualTo(Duration.ofMillis(millis));
  }

  @Test
  void no_delete_delay_is_zero() {
    assertThat(volume().parse().deleteDelay()).isEqualTo(Duration.ZERO);
  }

  @ParameterizedTest
  @ValueSource(strings = {"30", "1d", "soon", "-5s", "1 m"})
  void a_bad_delete_delay_is_refused_with_examples(String given) {
    assertThat(volume().context("juicefs/mount-delete-delay", given).refusal())
        .contains("'juicefs/mount-delete-delay'")
        .contains("1m30s");
  }

  @ParameterizedTest
  @CsvSource({"true, true", "false, false", "TRUE, true", "'', false"})
  void clean_cache_is_true_or_false(String given, boolean clean) {
    assertThat(volume().context("juicefs/clean-cache", given).parse().cleanCache())
        .isEqualTo(clean);
  }

  @Test
  void clean_cache_refuses_anything_else() {
    assertThat(volume().context("juicefs/clean-cache", "yes").refusal())
        .contains("'juicefs/clean-cache'")
        .contains("\"true\"");
  }

  @Test
  void resources_are_kubernetes_quantities() {
    ClientResources r =
        volume()
            .context("juicefs/mount-cpu-limit", "2")
            .context("juicefs/mount-cpu-request", "500m")
            .context("juicefs/mount-memory-limit", "5Gi")
            .context("juicefs/mount-memory-request", "1G")
            .parse()
            .resources();
    assertThat(r)
        .isEqualTo(
            new ClientResources(
                Optional.of(500L),
                Optional.of(2000L),
                Optional.of(1_000_000_000L),
                Optional.of(5L << 30)));
  }

  @Test
  void no_resources_means_none() {
    assertThat(volume().parse().resources()).isEqualTo(ClientResources.NONE);
  }

  @Test
  void zero_or_negative_is_an_explicit_no_value_like_the_go_driver() {
    ClientResources r =
        volume()
            .context("juicefs/mount-cpu-limit", "0")
            .context("juicefs/mount-memory-limit", "-1")
            .context("juicefs/mount-cpu-request", "1")
            .parse()
            .resources();
    assertThat(r.cpuLimitMillis()).contains(0L); // no limit, even with a request above 0
    assertThat(r.memoryLimitBytes()).contains(0L);
    assertThat(r.cpuRequestMillis()).contains(1000L);
    assertThat(r.memoryRequestBytes()).isEmpty();
  }

  @Test
  void a_request_above_its_limit_is_refused() {
    assertThat(
            volume()
                .context("juicefs/mount-cpu-limit", "1")
                .context("juicefs/mount-cpu-request", "1500m")
                .refusal())
        .contains("'juicefs/mount-cpu-request'")
        .contains("'juicefs/mount-cpu-limit'");
    assertThat(
            volume()
                .context("juicefs/mount-memory-limit", "1Gi")
                .context("juicefs/mount-memory-request", "2Gi")
                .refusal())
        .contains("'juicefs/mount-memory-request'");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "juicefs/mount-cpu-limit",
        "juicefs/mount-cpu-request",
        "juicefs/mount-memory-limit",
        "juicefs/mount-memory-request"
      })
  void a_bad_quantity_is_refused_with_examples(String key) {
    assertThat(volume().context(key, "lots").refusal()).contains("'" + key + "'").contains("512Mi");
    assertThat(volume().context(key, "99999E").refusal()).contains("too large");
  }

  @Test
  void mount_image_and_cache_pvcs_are_read() {
    VolumeSettings s =
        volume()
            .context("juicefs/mount-image", "juicedata/mount:ce-v1.2.0")
            .context("juicefs/mount-cache-pvc", "cache-a, cache-b,,cache-a")
            .parse();
    assertThat(s.mountImage()).contains("juicedata/mount:ce-v1.2.0");
    assertThat(s.cachePvc()).contains("cache-a,cache-b");
    assertThat(volume().context("juicefs/mount-cache-pvc", "Bad_Name").refusal())
        .contains("'juicefs/mount-cache-pvc'");
    assertThat(volume().context("juicefs/mount-image", "a b").refusal())
        .contains("'juicefs/mount-image'");
  }

  @Test
  void an_unknown_juicefs_key_is_ignored_as_the_go_driver_does_and_named_with_the_known_keys() {
    Volumes misspelt = volume().context("juicefs/mount-delete-dealy", "1m");
    assertThat(misspelt.parse().deleteDelay()).isEqualTo(Duration.ZERO);
    assertThat(misspelt.parse().clientHash()).isEqualTo(volume().parse().clientHash());
    assertThat(SettingsParser.ignoredKeys(misspelt.source()))
        .hasValueSatisfying(
            note ->
                assertThat(note)
                    .contains("'juicefs/mount-delete-dealy'", "ignored", "check their spelling")
                    .contains("juicefs/mount-delete-delay"));
    assertThat(SettingsParser.ignoredKeys(volume().context("juicefs/clean-cache", "true").source()))
        .isEmpty();
    String huge = "juicefs/" + "A".repeat(3000);
    assertThat(SettingsParser.ignoredKeys(volume().context(huge, "1").source()))
        .as("a huge key is quoted cut, never whole, in the warning")
        .hasValueSatisfying(note -> assertThat(note).doesNotContain(huge).contains("juicefs/AAA"));
  }

  @Test
  void go_driver_keys_for_the_mount_pod_and_other_keys_are_accepted() {
    VolumeSettings s =
        volume()
            .context("juicefs/mount-labels", "{a: b}")
            .context("juicefs/mount-annotations", "{}")
            .context("juicefs/mount-service-account", "sa")
            .context("juicefs/host-path", "/x")
            .context("juicefs/mount-cache-emptydir", "Memory:1Gi")
            .context("juicefs/mount-cache-inline-volume", "[]")
            .context("capacity", "10737418240")
            .context("pathPattern", "${.pvc.name}")
            .context("storage.kubernetes.io/csiProvisionerIdentity", "123-csi.juicefs.com")
            .context("csi.storage.k8s.io/pod.name", "app-0")
            .context("csi.storage.k8s.io/ephemeral", "false")
            .parse();
    assertThat(s.volumeId()).isEqualTo("pv-1");
  }
}

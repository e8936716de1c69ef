package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MountPodKeysTest {

  private static MountPodKeys keys(String key, String value) {
    return volume().context(key, value).parse().mountPodKeys();
  }

  private static String refusal(String key, String value) {
    return volume().context(key, value).refusal();
  }

  @Test
  void no_key_means_nothing_to_add() {
    assertThat(volume().parse().mountPodKeys()).isEqualTo(MountPodKeys.NONE);
    assertThat(volume().parse().mountPodKeys().isEmpty()).isTrue();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "{\"team\": \"data\", \"example.com/tier\": \"gold\"}",
        "{team: data, example.com/tier: gold}",
        "team: data\nexample.com/tier: gold"
      })
  void labels_are_a_json_or_yaml_map_as_in_the_go_driver(String text) {
    assertThat(keys("juicefs/mount-labels", text).labels())
        .isEqualTo(Map.of("team", "data", "example.com/tier", "gold"));
  }

  @Test
  void annotations_take_any_value() {
    assertThat(
            keys("juicefs/mount-annotations", "{\"note\": \"any text, even: colons\"}")
                .annotations())
        .isEqualTo(Map.of("note", "any text, even: colons"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"app.kubernetes.io/name", "volume-id", "juicefs-hash"})
  void the_drivers_own_labels_are_refused(String label) {
    assertThat(refusal("juicefs/mount-labels", "{\"" + label + "\": \"x\"}"))
        .contains("'juicefs/mount-labels'")
        .contains("'" + label + "'")
        .contains("the driver sets itself");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "juicefs-uniqueid",
        "juicefs-delete-delay",
        "juicefs-1234abcd",
        "jfs-csi.juicefs.com/source"
      })
  void the_drivers_own_annotations_and_reference_keys_are_refused(String annotation) {
    assertThat(refusal("juicefs/mount-annotations", "{\"" + annotation + "\": \"x\"}"))
        .contains("'juicefs/mount-annotations'")
        .contains("references and records");
  }

  @Test
  void bad_label_names_and_values_are_refused() {
    assertThat(refusal("juicefs/mount-labels", "{\"bad key!\": \"x\"}"))
        .contains("not a Kubernetes label name");
    assertThat(refusal("juicefs/mount-labels", "{\"ok\": \"a value with spaces\"}"))
        .contains("not a Kubernetes label value");
    assertThat(refusal("juicefs/mount-labels", "[a, b]"))
        .contains("volume context key 'juicefs/mount-labels' is not a flat map");
  }

  @Test
  void a_service_account_is_a_dns_name() {
    assertThat(keys("juicefs/mount-service-account", " jfs-mount ").serviceAccount())
        .contains("jfs-mount");
    assertThat(refusal("juicefs/mount-service-account", "Not_A_Name"))
        .contains("'juicefs/mount-service-account'")
        .contains("not a service account name");
  }

  @Test
  void an_emptydir_is_medium_colon_size() {
    assertThat(keys("juicefs/mount-cache-emptydir", "Memory:1Gi").cacheEmptyDir())
        .contains(new MountPodKeys.EmptyDir("Memory", Optional.of("1Gi")));
    assertThat(keys("juicefs/mount-cache-emptydir", ":10Gi").cacheEmptyDir())
        .contains(new MountPodKeys.EmptyDir("", Optional.of("10Gi")));
    assertThat(keys("juicefs/mount-cache-emptydir", "Memory").cacheEmptyDir())
        .contains(new MountPodKeys.EmptyDir("Memory", Optional.empty()));
    // As in the Go driver, the key present at all makes an emptyDir cache.
    assertThat(keys("juicefs/mount-cache-emptydir", "").cacheEmptyDir())
        .contains(new MountPodKeys.EmptyDir("", Optional.empty()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"Disk:1Gi", "Memory:lots", "Memory:-1Gi", "Memory:1Gi:x", "Memory:2Ei"})
  void a_bad_emptydir_is_refused_with_an_example(String value) {
    assertThat(refusal("juicefs/mount-cache-emptydir", value))
        .contains("'juicefs/mount-cache-emptydir'")
        .contains("'Memory:1Gi'");
  }

  @Test
  void inline_volumes_are_a_json_list_of_csi_volume_sources() {
    List<MountPodKeys.InlineVolume> volumes =
        keys(
                "juicefs/mount-cache-inline-volume",
                "[{\"driver\": \"local.csi.example.com\", \"fsType\": \"ext4\", \"readOnly\": false,"
                    + " \"volumeAttributes\": {\"size\": \"10Gi\"},"
                    + " \"nodePublishSecretRef\": {\"name\": \"cache-secret\"}},"
                    + " {\"driver\": \"other.example.com\"}]")
            .cacheInlineVolumes();
    assertThat(volumes)
        .containsExactly(
            new MountPodKeys.InlineVolume(
                "local.csi.example.com",
                Optional.of(false),
                Optional.of("ext4"),
                Map.of("size", "10Gi"),
                Optional.of("cache-secret")),
            new MountPodKeys.InlineVolume(
                "other.example.com",
                Optional.empty(),
                Optional.empty(),
                Map.of(),
                Optional.empty()));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "not json",
        "{\"driver\": \"x.example.com\"}",
        "[{\"fsType\": \"ext4\"}]",
        "[{\"driver\": \"x.example.com\", \"drvier\": 1}]",
        "[{\"driver\": \"x.example.com\", \"readOnly\": \"yes\"}]",
        "[{\"driver\": \"x.example.com\", \"volumeAttributes\": {\"size\": 10}}]",
        "[{\"driver\": \"x.example.com\", \"nodePublishSecretRef\": \"s\"}]"
      })
  void a_bad_inline_volume_is_refused_with_an_example(String value) {
    assertThat(refusal("juicefs/mount-cache-inline-volume", value))
        .contains("'juicefs/mount-cache-inline-volume' is not a JSON list of CSI inline volumes")
        .contains("\"driver\"");
  }

  @Test
  void host_paths_are_a_comma_list_of_absolute_paths() {
    assertThat(
            keys("juicefs/host-path", " /etc/ssl/certs, /data/keys/ ,,/etc/ssl/certs").hostPaths())
        .containsExactly(Path.of("/etc/ssl/certs"), Path.of("/data/keys"));
  }

  @ParameterizedTest
  @ValueSource(strings = {"relative/dir", "/", "/a/../..", "/a,b", "//"})
  void a_bad_host_path_is_refused(String value) {
    assertThat(refusal("juicefs/host-path", value))
        .contains("'juicefs/host-path'")
        .contains("not an absolute host path");
  }
}

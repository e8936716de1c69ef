package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.Trials;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClientHashTest {

  private static Volumes full() {
    return volume()
        .secret("storage", "s3")
        .secret("bucket", "https://b.s3.amazonaws.com")
        .secret("access-key", "AK")
        .secret("secret-key", "SK")
        .secret("format-options", "trash-days=1,hash-prefix")
        .secret("envs", "{A: a, B: b, C: c}")
        .secret("configs", "ca: /etc/ca")
        .context("juicefs/mount-cpu-limit", "2")
        .context("juicefs/mount-memory-limit", "2Gi")
        .context("juicefs/mount-image", "img:1")
        .context("juicefs/mount-cache-pvc", "pvc-a")
        .context("juicefs/mount-delete-delay", "1m")
        .context("juicefs/clean-cache", "true")
        .mountFlags("cache-size=1024", "cache-dir=/a:/b", "enable-xattr");
  }

  @Test
  void the_hash_is_hex_sha256() {
    assertThat(full().parse().clientHash()).matches("[0-9a-f]{64}");
  }

  @Test
  void the_same_inputs_give_the_same_hash() {
    assertThat(full().parse().clientHash()).isEqualTo(full().parse().clientHash());
  }

  @Test
  void mount_options_in_another_order_give_the_same_hash() {
    String hash =
        volume().mountFlags("cache-size=1024", "enable-xattr,allow_other").parse().clientHash();
    assertThat(
            volume()
                .mountFlags("allow_other", "enable-xattr , cache-size=1024")
                .parse()
                .clientHash())
        .isEqualTo(hash);
  }

  @Test
  void envs_written_in_another_order_or_form_give_the_same_hash() {
    String hash = volume().secret("envs", "{A: a, B: b}").parse().clientHash();
    assertThat(volume().secret("envs", "B: b\nA: a\n").parse().clientHash()).isEqualTo(hash);
    assertThat(volume().secret("envs", "{\"B\":\"b\",\"A\":\"a\"}").parse().clientHash())
        .isEqualTo(hash);
  }

  @Test
  void map_order_never_changes_the_hash() {
    Trials.run(
        "map_order_never_changes_the_hash",
        50,
        random -> {
          long seed = random.nextLong();
          VolumeSource base = full().source();
          VolumeSource shuffled =
              new VolumeSource(
                  base.volumeId(),
                  shuffle(base.secrets(), seed),
                  shuffle(base.context(), seed + 1),
                  base.mountFlags());
          assertThat(SettingsParser.parse(shuffled).clientHash())
              .isEqualTo(SettingsParser.parse(base).clientHash());
        });
  }

  private static Map<String, String> shuffle(Map<String, String> map, long seed) {
    List<Map.Entry<String, String>> entries = new ArrayList<>(map.entrySet());
    Collections.shuffle(entries, new Random(seed));
    Map<String, String> out = new LinkedHashMap<>();
    entries.forEach(e -> out.put(e.getKey(), e.getValue()));
    return out;
  }

  @Test
  void sub_path_and_pod_info_do_not_change_the_hash() {
    String hash = full().parse().clientHash();
    assertThat(
            full()
                .context("subPath", "pvc-other")
                .context("capacity", "1073741824")
                .context("csi.storage.k8s.io/pod.name", "app-1")
                .context("csi.storage.k8s.io/pod.namespace", "team")
                .context("csi.storage.k8s.io/pod.uid", "1234")
                .context("csi.storage.k8s.io/serviceAccount.name", "default")
                .context("csi.storage.k8s.io/ephemeral", "false")
                .context("storage.kubernetes.io/csiProvisionerIdentity", "x")
                .parse()
                .clientHash())
        .isEqualTo(hash);
  }

  @Test
  void the_volume_id_is_not_part_of_the_hash() {
    VolumeSource a = full().source();
    VolumeSource b = new VolumeSource("pv-2", a.secrets(), a.context(), a.mountFlags());
    assertThat(SettingsParser.parse(b).clientHash())
        .isEqualTo(SettingsParser.parse(a).clientHash());
  }

  @ParameterizedTest(name = "{0} changes the hash")
  @ValueSource(
      strings = {
        "name",
        "metaurl",
        "storage",
        "bucket",
        "access-key",
        "secret-key",
        "format-options",
        "envs",
        "configs",
        "mount flags",
        "cpu limit",
        "memory limit",
        "image",
        "cache pvc",
        "delete delay",
        "clean cache",
        "cache dir",
        "mount pod labels"
      })
  void every_client_relevant_field_changes_the_hash(String field) {
    UnaryOperator<Volumes> change =
        switch (field) {
          case "name" -> v -> v.secret("name", "otherfs");
          case "metaurl" -> v -> v.secret("metaurl", "redis://other:6379/1");
          case "storage" -> v -> v.secret("storage", "minio");
          case "bucket" -> v -> v.secret("bucket", "https://c.s3.amazonaws.com");
          case "access-key" -> v -> v.secret("access-key", "AK2");
          case "secret-key" -> v -> v.secret("secret-key", "SK2");
          case "format-options" -> v -> v.secret("format-options", "trash-days=2,hash-prefix");
          case "envs" -> v -> v.secret("envs", "{A: a, B: b, C: changed}");
          case "configs" -> v -> v.secret("configs", "ca: /etc/ca2");
          case "mount flags" ->
              v -> v.mountFlags("cache-size=2048", "cache-dir=/a:/b", "enable-xattr");
          case "cache dir" -> v -> v.mountFlags("cache-size=1024", "cache-dir=/a", "enable-xattr");
          case "cpu limit" -> v -> v.context("juicefs/mount-cpu-limit", "3");
          case "memory limit" -> v -> v.context("juicefs/mount-memory-limit", "3Gi");
          case "image" -> v -> v.context("juicefs/mount-image", "img:2");
          case "cache pvc" -> v -> v.context("juicefs/mount-cache-pvc", "pvc-b");
          case "delete delay" -> v -> v.context("juicefs/mount-delete-delay", "2m");
          case "clean cache" -> v -> v.context("juicefs/clean-cache", "false");
          case "mount pod labels" -> v -> v.context("juicefs/mount-labels", "{team: a}");
          default -> throw new IllegalArgumentException(field);
        };
    assertThat(change.apply(full()).parse().clientHash()).isNotEqualTo(full().parse().clientHash());
  }

  @Test
  void an_absent_value_and_an_empty_one_are_different_clients() {
    assertThat(volume().secret("envs", "{A: ''}").parse().clientHash())
        .isNotEqualTo(volume().parse().clientHash());
  }

  @Test
  void values_cannot_be_shifted_between_fields_to_collide() {
    assertThat(volume().secret("storage", "s3").secret("bucket", "x").parse().clientHash())
        .isNotEqualTo(volume().secret("storage", "s3x").parse().clientHash());
  }
}

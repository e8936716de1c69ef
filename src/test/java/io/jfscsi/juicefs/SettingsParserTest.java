package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SettingsParserTest {

  @Test
  void a_go_driver_storage_class_volume_parses_unchanged() {
    VolumeSource source =
        new VolumeSource(
            "pvc-4f1c",
            Map.of(
                "name",
                "ten-pb-fs",
                "metaurl",
                "redis://:pw@redis.jfs:6379/1",
                "storage",
                "s3",
                "bucket",
                "https://jfs.s3.us-east-1.amazonaws.com",
                "access-key",
                "AK",
                "secret-key",
                "SK",
                "envs",
                "{TZ: Asia/Shanghai}",
                "format-options",
                "trash-days=1,block-size=4096"),
            Map.of(
                "subPath",
                "pvc-4f1c",
                "capacity",
                "10737418240",
                "juicefs/mount-delete-delay",
                "1m",
                "juicefs/clean-cache",
                "true",
                "juicefs/mount-cpu-limit",
                "5",
                "juicefs/mount-memory-limit",
                "5Gi",
                "juicefs/mount-cpu-request",
                "1",
                "juicefs/mount-memory-request",
                "1Gi",
                "csi.storage.k8s.io/pod.name",
                "app-0",
                "storage.kubernetes.io/csiProvisionerIdentity",
                "1700000000000-csi.juicefs.com"),
            List.of("cache-dir=/var/foo", "cache-size=204800", "buffer-size=300"));
    VolumeSettings s = SettingsParser.parse(source);
    assertThat(s.volumeId()).isEqualTo("pvc-4f1c");
    assertThat(s.source()).isSameAs(source);
    assertThat(s.subPath()).isEqualTo("pvc-4f1c");
    assertThat(s.deleteDelay()).isEqualTo(Duration.ofMinutes(1));
    assertThat(s.cleanCache()).isTrue();
    assertThat(s.cacheDirs()).containsExactly(Path.of("/var/foo"));
    assertThat(s.mountOptions())
        .containsExactly("cache-dir=/var/foo", "cache-size=204800", "buffer-size=300");
    assertThat(s.resources().memoryLimitBytes()).contains(5L << 30);
    assertThat(s.readOnly()).isFalse();
  }

  @Test
  void a_volume_is_read_only_with_ro_or_read_only() {
    assertThat(volume().mountFlags("ro").parse().readOnly()).isTrue();
    assertThat(volume().mountFlags("read-only").parse().readOnly()).isTrue();
    assertThat(volume().mountFlags("read-only=false").parse().readOnly()).isFalse();
  }

  @Test
  void a_missing_volume_id_is_refused() {
    assertThat(
            Volumes.refusal(
                () ->
                    SettingsParser.parse(
                        new VolumeSource(
                            " ",
                            Map.of("name", "myjfs", "metaurl", "redis://h"),
                            Map.of(),
                            List.of()))))
        .contains("volume id");
  }

  @Test
  void the_settings_print_without_secrets() {
    VolumeSettings s =
        volume()
            .secret("secret-key", "s3cr3tSK")
            .secret("envs", "A: s3cr3tENV")
            .mountFlags("bucket=redis://u:s3cr3tPW@h:6379/2")
            .parse();
    assertThat(s.toString())
        .contains("pv-1")
        .doesNotContain("s3cr3t")
        .doesNotContain("myjfs")
        .doesNotContain("redis.example")
        .contains("bucket=redis://u:******@h:6379/2");
  }
}

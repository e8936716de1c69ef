package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class MountOptionsTest {

  private static MountOptions parse(String... flags) {
    return MountOptions.parse(List.of(flags), null);
  }

  @Test
  void flags_may_each_hold_a_comma_list_and_are_kept_in_order_once() {
    MountOptions options =
        parse("cache-size=1024, buffer-size = 300", "enable-xattr", "cache-size=1024,allow_other");
    assertThat(options.options())
        .containsExactly("cache-size=1024", "buffer-size=300", "enable-xattr", "allow_other");
  }

  @Test
  void the_legacy_context_key_mountOptions_comes_after_the_mount_flags() {
    MountOptions options = MountOptions.parse(List.of("cache-size=100"), "free-space-ratio=0.2,ro");
    assertThat(options.options()).containsExactly("cache-size=100", "free-space-ratio=0.2", "ro");
  }

  @ParameterizedTest(name = "{0} is accepted")
  @ValueSource(
      strings = {
        "cache-dir=/data/jfs",
        "cache-size=102400",
        "cache-size=100G",
        "free-space-ratio=0.1",
        "buffer-size=300",
        "buffer-size=1GiB",
        "prefetch=3",
        "upload-delay=10m",
        "max-uploads=50",
        "get-timeout=60",
        "put-timeout=1m",
        "io-retries=20",
        "attr-cache=1",
        "entry-cache=0.5",
        "dir-entry-cache=1s",
        "open-cache=0",
        "subdir=/team/a",
        "backup-meta=0",
        "backup-meta=1h",
        "heartbeat=12",
        "read-only",
        "ro",
        "rw",
        "no-bgjob",
        "metrics=0.0.0.0:9567",
        "no-usage-report",
        "enable-xattr",
        "allow_other",
        "debug",
        "verbose",
        "cache-partial-only",
        "bucket=https://b.s3.amazonaws.com",
        "storage-class=IA",
        "consul=127.0.0.1:8500",
        "upload-limit=100",
        "download-limit=200",
        "skip-dir-nlink=20",
        "atime-mode=relatime",
        "cache-mode=0644",
        "verify-cache-checksum=shrink",
        "cache-eviction=none",
        "cache-expire=3600",
        "max-readahead=64",
        "writeback_cache",
        "user_id=1000",
        "group_id=1000",
        "enable-ioctl=false",
        "root-squash=1000:1000",
        "writeback=false",
        "attrcacheto=2",
        "_netdev",
        "defaults",
        "cache-items=1000",
        "open-cache-limit=100",
        "max-deletes=5",
        "skip-dir-mtime=100ms",
        "custom-labels=team:a;env:prod",
        "no-syslog",
        "force",
        "check-storage"
      })
  void accepts_the_juicefs_ce_mount_options(String option) {
    assertThat(volume().mountFlags(option).parse().mountOptions()).isNotNull();
  }

  @Test
  void aliases_become_the_flag_name_juicefs_uses() {
    assertThat(parse("attrcacheto=2", "entrycacheto=3", "direntrycacheto=4", "verbose").options())
        .containsExactly("attr-cache=2", "entry-cache=3", "dir-entry-cache=4", "debug");
  }

  @Test
  void flags_written_true_are_the_bare_flag_and_false_is_kept() {
    assertThat(parse("enable-xattr=true", "no-bgjob=FALSE").options())
        .containsExactly("enable-xattr", "no-bgjob=false");
  }

  @Test
  void mount_options_that_mount8_adds_are_dropped() {
    assertThat(parse("_netdev,defaults,cache-size=1").options()).containsExactly("cache-size=1");
  }

  @Test
  void an_unknown_option_is_refused_naming_it() {
    assertThat(volume().mountFlags("cache-szie=100").refusal())
        .contains("'cache-szie'")
        .contains("not a JuiceFS Community Edition mount option");
  }

  @Test
  void an_unknown_option_in_the_legacy_context_key_says_where_it_came_from() {
    assertThat(volume().context("mountOptions", "bogus").refusal())
        .contains("'bogus'")
        .contains("volume context key 'mountOptions'");
  }

  @ParameterizedTest(name = "{0} is refused")
  @ValueSource(
      strings = {
        "cache-size=big",
        "prefetch=-1",
        "free-space-ratio=ten",
        "max-uploads=1.5",
        "get-timeout=soon",
        "cache-mode=999",
        "atime-mode=sometimes",
        "user_id=root",
        "cache-size",
        "subdir=",
        "enable-xattr=yes",
        "upload-delay=-1s"
      })
  void numbers_and_choices_must_be_well_formed(String option) {
    String name = option.split("=")[0];
    assertThat(volume().mountFlags(option).refusal()).contains("'" + name + "'");
  }

  @Test
  void a_value_error_does_not_echo_the_value() {
    assertThat(volume().mountFlags("cache-size=s3cr3t").refusal())
        .contains("'cache-size'")
        .contains("must be a number")
        .doesNotContain("s3cr3t");
  }

  @ParameterizedTest
  @ValueSource(strings = {"writeback", "writeback=true", "writeback=TRUE"})
  void writeback_is_refused_with_the_reason_and_what_to_do_instead(String option) {
    assertThat(volume().mountFlags(option).refusal())
        .contains("'writeback'")
        .contains("before they reach object storage")
        .contains("deleted or restarted at any time")
        .contains("persistent cache")
        .contains("juicefs/mount-delete-delay");
  }

  @ParameterizedTest
  @ValueSource(strings = {"d", "background", "update-fstab"})
  void options_that_break_supervision_or_touch_the_node_are_refused(String option) {
    assertThat(volume().mountFlags(option).refusal()).contains("is refused");
  }

  @Test
  void the_same_option_twice_with_different_values_is_refused() {
    assertThat(volume().mountFlags("cache-size=100", "cache-size=200").refusal())
        .contains("'cache-size'")
        .contains("given twice");
    assertThat(
            volume().mountFlags("attr-cache=1").context("mountOptions", "attrcacheto=2").refusal())
        .contains("attr-cache")
        .contains("given twice");
  }

  @Test
  void the_same_option_twice_with_the_same_value_is_kept_once() {
    assertThat(parse("cache-size=100", "cache-size=100").options())
        .containsExactly("cache-size=100");
  }

  @ParameterizedTest
  @ValueSource(strings = {"ro,rw", "read-only,rw"})
  void ro_and_rw_together_are_refused(String options) {
    assertThat(volume().mountFlags(options).refusal()).contains("'ro'").contains("'rw'");
  }

  @Test
  void cache_dirs_default_to_var_jfsCache() {
    assertThat(parse("cache-size=1").cacheDirs()).containsExactly(Path.of("/var/jfsCache"));
  }

  @Test
  void cache_dir_lists_colon_separated_absolute_directories() {
    assertThat(parse("cache-dir=/data1/jfs:/data2/jfs/:/data1/jfs").cacheDirs())
        .containsExactly(Path.of("/data1/jfs"), Path.of("/data2/jfs"));
    assertThat(parse("cache-dir=memory").cacheDirs()).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "cache-dir=relative/dir",
        "cache-dir=/data/*",
        "cache-dir=/a/../b",
        "cache-dir=/ok:relative"
      })
  void cache_dirs_must_be_plain_absolute_directories(String option) {
    assertThat(volume().mountFlags(option).refusal()).contains("'cache-dir'");
  }

  @Test
  void buffer_size_is_lowered_to_the_memory_limit_like_the_go_driver() {
    VolumeSettings settings =
        volume()
            .mountFlags("buffer-size=2048")
            .context("juicefs/mount-memory-limit", "1Gi")
            .parse();
    assertThat(settings.mountOptions()).containsExactly("buffer-size=1024");
    assertThat(
            volume()
                .mountFlags("buffer-size=512")
                .context("juicefs/mount-memory-limit", "1Gi")
                .parse()
                .mountOptions())
        .containsExactly("buffer-size=512");
  }

  @Test
  void size_values_are_mib_unless_they_carry_a_unit() {
    assertThat(MountOptions.bytes("300")).isEqualByComparingTo("314572800");
    assertThat(MountOptions.bytes("1G")).isEqualByComparingTo("1073741824");
    assertThat(MountOptions.bytes("512KiB")).isEqualByComparingTo("524288");
    assertThat(MountOptions.bytes("10B")).isEqualByComparingTo("10");
  }
}

package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.entry;

import io.jfscsi.Failure;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class ClientCommandTest {

  private static final ClientCommand JUICEFS = ClientCommand.DEFAULT;

  @Test
  void format_with_storage_and_bucket_may_update_the_volume_but_keys_stay_in_the_environment() {
    VolumeSettings s =
        volume()
            .secret("storage", "s3")
            .secret("bucket", "https://b.s3.amazonaws.com")
            .secret("access-key", "AK")
            .secret("secret-key", "SK")
            .secret("format-options", "trash-days=1,hash-prefix")
            .parse();
    assertThat(JUICEFS.formatArgs(s))
        .containsExactly(
            "juicefs",
            "format",
            "--storage=s3",
            "--bucket=https://b.s3.amazonaws.com",
            "--hash-prefix",
            "--trash-days=1",
            "redis://redis.example:6379/1",
            "myjfs");
    assertThat(ClientCommand.environment(s))
        .containsOnly(entry("ACCESS_KEY", "AK"), entry("SECRET_KEY", "SK"));
  }

  @Test
  void the_metaurl_password_goes_to_meta_password_and_never_onto_the_command_line() {
    VolumeSettings redis = volume().secret("metaurl", "redis://:p%40ss+w@redis:6379/1").parse();
    assertThat(JUICEFS.mountArgs(redis, Path.of("/m")))
        .containsExactly("juicefs", "mount", "redis://@redis:6379/1", "/m");
    assertThat(JUICEFS.formatArgs(redis))
        .contains("redis://@redis:6379/1")
        .noneMatch(a -> a.contains("p%40ss"));
    assertThat(ClientCommand.environment(redis)).containsOnly(entry("META_PASSWORD", "p@ss+w"));

    VolumeSettings mysql = volume().secret("metaurl", "mysql://u:p%40w@(db:3306)/jfs").parse();
    assertThat(JUICEFS.mountArgs(mysql, Path.of("/m"))).contains("mysql://u@(db:3306)/jfs");
    assertThat(ClientCommand.environment(mysql)).containsOnly(entry("META_PASSWORD", "p%40w"));

    // An engine not known to read META_PASSWORD keeps its metaurl whole.
    VolumeSettings tikv = volume().secret("metaurl", "tikv://u:pw@pd:2379/jfs").parse();
    assertThat(JUICEFS.mountArgs(tikv, Path.of("/m"))).contains("tikv://u:pw@pd:2379/jfs");
    assertThat(ClientCommand.environment(tikv)).isEmpty();
  }

  @Test
  void format_without_storage_or_bucket_never_updates_and_keys_stay_off_the_command_line() {
    VolumeSettings s =
        volume()
            .secret("bucket", "https://b.s3.amazonaws.com")
            .secret("access-key", "AK")
            .secret("secret-key", "SK")
            .parse();
    assertThat(JUICEFS.formatArgs(s))
        .containsExactly(
            "juicefs",
            "format",
            "--no-update",
            "--bucket=https://b.s3.amazonaws.com",
            "redis://redis.example:6379/1",
            "myjfs");
    assertThat(ClientCommand.environment(s))
        .containsOnly(entry("ACCESS_KEY", "AK"), entry("SECRET_KEY", "SK"));
  }

  @Test
  void no_update_given_as_a_format_option_is_not_repeated() {
    VolumeSettings s = volume().secret("format-options", "no-update").parse();
    assertThat(JUICEFS.formatArgs(s)).containsOnlyOnce("--no-update");
  }

  @Test
  void the_binary_can_be_a_path() {
    assertThat(new ClientCommand("/usr/local/bin/juicefs").formatArgs(volume().parse()))
        .startsWith("/usr/local/bin/juicefs", "format");
  }

  @Test
  void mount_runs_in_the_foreground_with_juicefs_flags_and_fuse_options_apart() {
    VolumeSettings s =
        volume()
            .mountFlags(
                "cache-dir=/data/jfs",
                "cache-size=1024,allow_other",
                "enable-xattr",
                "ro",
                "no-bgjob=false",
                "debug")
            .parse();
    assertThat(JUICEFS.mountArgs(s, Path.of("/var/lib/jfs/pv-1")))
        .containsExactly(
            "juicefs",
            "mount",
            "--cache-dir=/data/jfs",
            "--cache-size=1024",
            "--enable-xattr",
            "--no-bgjob=false",
            "--debug",
            "-o",
            "allow_other,ro",
            "redis://redis.example:6379/1",
            "/var/lib/jfs/pv-1");
  }

  @Test
  void mount_without_options_is_just_metaurl_and_mount_point() {
    assertThat(JUICEFS.mountArgs(volume().parse(), Path.of("/jfs/x")))
        .containsExactly("juicefs", "mount", "redis://redis.example:6379/1", "/jfs/x")
        .doesNotContain("-d", "--background");
  }

  @Test
  void rw_is_the_default_and_is_not_passed() {
    assertThat(JUICEFS.mountArgs(volume().mountFlags("rw").parse(), Path.of("/jfs/x")))
        .doesNotContain("-o", "rw");
  }

  @Test
  void the_mount_point_must_be_absolute() {
    assertThatThrownBy(() -> JUICEFS.mountArgs(volume().parse(), Path.of("relative")))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void a_local_directory_volume_has_no_juicefs_command() {
    VolumeSettings local = volume().secret("metaurl", "local:///srv/v").parse();
    assertThatThrownBy(() -> JUICEFS.formatArgs(local))
        .isInstanceOfSatisfying(
            Failure.class, f -> assertThat(f.code()).isEqualTo(Failure.Code.FAILED_PRECONDITION));
    assertThatThrownBy(() -> JUICEFS.mountArgs(local, Path.of("/x"))).isInstanceOf(Failure.class);
  }

  @Test
  void environment_holds_envs_and_the_keys_of_the_secret_win() {
    VolumeSettings s =
        volume()
            .secret("envs", "{TZ: UTC, ACCESS_KEY: from-envs}")
            .secret("access-key", "from-key")
            .parse();
    assertThat(ClientCommand.environment(s))
        .containsOnly(entry("TZ", "UTC"), entry("ACCESS_KEY", "from-key"));
  }

  @Test
  void a_session_token_goes_through_the_environment_and_never_on_a_command_line() {
    VolumeSettings s =
        volume()
            .secret("storage", "s3")
            .secret("bucket", "https://b.example/x")
            .secret("format-options", "trash-days=1,session-token=TOKEN-77,hash-prefix")
            .secret("envs", "{SESSION_TOKEN: from-envs}")
            .parse();
    assertThat(JUICEFS.formatArgs(s))
        .contains("--trash-days=1", "--hash-prefix")
        .noneMatch(a -> a.contains("session-token") || a.contains("TOKEN-77"));
    assertThat(JUICEFS.mountArgs(s, Path.of("/mnt/x"))).noneMatch(a -> a.contains("TOKEN-77"));
    assertThat(ClientCommand.environment(s)).containsEntry("SESSION_TOKEN", "TOKEN-77");
    assertThat(s.sessionToken()).map(SecretValue::reveal).contains("TOKEN-77");
  }

  @Test
  void redaction_masks_credentials_and_the_metaurl_but_keeps_the_rest_readable() {
    List<String> argv =
        List.of(
            "juicefs",
            "format",
            "--storage=s3",
            "--bucket=redis://user:bpass@b:6379/2",
            "--access-key=AK",
            "--secret-key=SK",
            "--session-token=TOK",
            "--trash-days=1",
            "redis://:mpass@meta:6379/1",
            "myjfs");
    assertThat(ClientCommand.redacted(argv))
        .containsExactly(
            "juicefs",
            "format",
            "--storage=s3",
            "--bucket=redis://user:******@b:6379/2",
            "--access-key=******",
            "--secret-key=******",
            "--session-token=******",
            "--trash-days=1",
            "redis://******",
            "myjfs");
  }

  @Test
  void redaction_handles_separate_values_fuse_options_and_metaurls_without_scheme() {
    List<String> argv =
        List.of(
            "juicefs", "mount", "--secret-key", "SK", "-o", "allow_other", "host:6379", "/mnt/jfs");
    assertThat(ClientCommand.redacted(argv))
        .containsExactly(
            "juicefs",
            "mount",
            "--secret-key",
            "******",
            "-o",
            "allow_other",
            "******",
            "/mnt/jfs");
  }

  @Test
  void a_bucket_without_a_password_is_unchanged() {
    assertThat(ClientCommand.maskUrlPassword("https://b.s3.amazonaws.com/x@y"))
        .isEqualTo("https://b.s3.amazonaws.com/x@y");
    assertThat(ClientCommand.maskUrlPassword("plain")).isEqualTo("plain");
  }

  @Test
  void quota_set_is_the_go_drivers_invocation_with_the_password_in_the_environment() {
    VolumeSettings s =
        volume()
            .secret("metaurl", "redis://:s3cret@redis:6379/1")
            .context("subPath", "pvc-42")
            .mountFlags("subdir=/team")
            .parse();
    DirectoryQuota quota = DirectoryQuota.of(s, 5L << 30);
    List<String> argv = JUICEFS.quotaSetArgs(s, quota);
    assertThat(argv)
        .containsExactly(
            "juicefs",
            "quota",
            "set",
            "redis://@redis:6379/1",
            "--path",
            "/team/pvc-42",
            "--capacity",
            "5",
            "--create");
    assertThat(ClientCommand.environment(s)).containsOnly(entry("META_PASSWORD", "s3cret"));
    assertThat(ClientCommand.redacted(argv))
        .as("both words of the subcommand kept, the metaurl masked")
        .containsExactly(
            "juicefs",
            "quota",
            "set",
            "redis://" + ClientCommand.MASK,
            "--path",
            "/team/pvc-42",
            "--capacity",
            "5",
            "--create");
  }

  @Test
  void a_quota_rounds_the_size_up_to_whole_gibibytes_and_is_never_below_one() {
    assertThat(DirectoryQuota.gibibytesOf(1)).isEqualTo(1);
    assertThat(DirectoryQuota.gibibytesOf(100L << 20)).isEqualTo(1);
    assertThat(DirectoryQuota.gibibytesOf(1L << 30)).isEqualTo(1);
    assertThat(DirectoryQuota.gibibytesOf((1L << 30) + 1)).isEqualTo(2);
    assertThat(DirectoryQuota.gibibytesOf(3L << 29)).isEqualTo(2); // 1.5 GiB
    assertThat(DirectoryQuota.gibibytesOf(10L << 40)).isEqualTo(10L << 10);
    assertThatThrownBy(() -> DirectoryQuota.gibibytesOf(0))
        .isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void the_quota_path_is_subdir_then_sub_path_and_the_root_without_either() {
    assertThat(DirectoryQuota.of(volume().context("subPath", "a/b").parse(), 1).path())
        .isEqualTo("/a/b");
    assertThat(DirectoryQuota.of(volume().mountFlags("subdir=x/").parse(), 1).path())
        .isEqualTo("/x");
    assertThat(DirectoryQuota.of(volume().parse(), 1).path()).isEqualTo("/");
  }

  @Test
  void the_capacity_of_a_volume_context_is_bytes_and_absent_for_static_volumes() {
    assertThat(DirectoryQuota.requestedBytes(java.util.Map.of())).isEmpty();
    assertThat(DirectoryQuota.requestedBytes(java.util.Map.of("capacity", "0"))).isEmpty();
    assertThat(DirectoryQuota.requestedBytes(java.util.Map.of("capacity", "1073741824")))
        .contains(1L << 30);
    assertThatThrownBy(() -> DirectoryQuota.requestedBytes(java.util.Map.of("capacity", "10Gi")))
        .isInstanceOfSatisfying(
            Failure.class, f -> assertThat(f.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT));
    // The Go driver's marker of a quota set at provisioning is a key the node accepts.
    assertThat(
            volume().context(DirectoryQuota.SET_BY_CONTROLLER, "true").parse().source().context())
        .containsEntry(DirectoryQuota.SET_BY_CONTROLLER, "true");
  }

  @Test
  void the_embedded_default_has_no_quota_command() {
    VolumeSettings local = volume().secret("metaurl", "local:///srv/data").parse();
    assertThatThrownBy(() -> JUICEFS.quotaSetArgs(local, new DirectoryQuota("/v", 1)))
        .isInstanceOf(Failure.class);
  }

  @Test
  void clone_is_the_go_drivers_snapshot_command_with_owners_and_modes_kept_and_no_secret() {
    Path mount = Path.of("/var/lib/jfs-csi/clients/..provisioner-abc");
    List<String> argv =
        JUICEFS.cloneArgs(
            mount.resolve("pvc-1"), mount.resolve(".snapshots/pvc-1/.snapshot-9.partial"));
    assertThat(argv)
        .containsExactly(
            "juicefs",
            "clone",
            "-p",
            "/var/lib/jfs-csi/clients/..provisioner-abc/pvc-1",
            "/var/lib/jfs-csi/clients/..provisioner-abc/.snapshots/pvc-1/.snapshot-9.partial");
    assertThat(ClientCommand.redacted(argv))
        .as("clone takes no metaurl: its paths are shown as they are")
        .isEqualTo(argv);
  }
}

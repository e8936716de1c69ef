package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SecretKeysTest {

  @Test
  void a_full_community_edition_secret_is_read() {
    VolumeSettings s =
        volume()
            .secret("storage", "s3")
            .secret("bucket", "https://mybucket.s3.us-east-2.amazonaws.com")
            .secret("access-key", "AKIAEXAMPLE")
            .secret("secret-key", "wJalrXUtnFEMI")
            .secret("format-options", "trash-days=1,block-size=4096,hash-prefix")
            .secret("envs", "{TZ: Asia/Shanghai}")
            .secret("configs", "my-ca: /etc/ssl/jfs")
            .parse();
    assertThat(s.fsName()).isEqualTo("myjfs");
    assertThat(s.metaUrl().reveal()).isEqualTo("redis://redis.example:6379/1");
    assertThat(s.storage()).contains("s3");
    assertThat(s.bucket()).contains("https://mybucket.s3.us-east-2.amazonaws.com");
    assertThat(s.accessKey().orElseThrow().reveal()).isEqualTo("AKIAEXAMPLE");
    assertThat(s.secretKey().orElseThrow().reveal()).isEqualTo("wJalrXUtnFEMI");
    assertThat(s.formatOptions())
        .containsOnly(
            entry("trash-days", "1"), entry("block-size", "4096"), entry("hash-prefix", ""));
    assertThat(s.envs()).containsOnly(entry("TZ", "Asia/Shanghai"));
    assertThat(s.configs()).containsOnly(entry("my-ca", "/etc/ssl/jfs"));
    assertThat(s.localDirectory()).isEmpty();
  }

  @Test
  void name_is_required() {
    assertThat(volume().secret("name", null).refusal()).contains("secret key 'name' is missing");
    assertThat(volume().secret("name", "  ").refusal()).contains("secret key 'name' is missing");
  }

  @ParameterizedTest
  @ValueSource(strings = {"My_FS", "ab", "-abc", "abc-", "a.b.c"})
  void name_must_be_a_valid_juicefs_name(String name) {
    assertThat(volume().secret("name", name).refusal())
        .contains("secret key 'name'")
        .contains("3 to 63")
        .doesNotContain(name);
  }

  @Test
  void metaurl_is_required_and_enterprise_tokens_get_their_own_explanation() {
    assertThat(volume().secret("metaurl", null).refusal())
        .contains("secret key 'metaurl' is missing");
    assertThat(volume().secret("metaurl", null).secret("token", "t0k3n").refusal())
        .contains("Enterprise Edition is not supported")
        .doesNotContain("t0k3n");
  }

  @ParameterizedTest(name = "{0} becomes {1}")
  @CsvSource({
    "redis.example:6379/1, redis://redis.example:6379/1",
    "localhost, redis://localhost",
    "redis://:pw@host:6379/2, redis://:pw@host:6379/2",
    "'mysql://u:p@(db:3306)/jfs', 'mysql://u:p@(db:3306)/jfs'",
    "sqlite3:///var/lib/jfs.db, sqlite3:///var/lib/jfs.db",
    "'tikv://h1:2379,h2:2379/jfs', 'tikv://h1:2379,h2:2379/jfs'"
  })
  void metaurl_gets_redis_when_it_has_no_scheme_like_the_go_driver(String given, String used) {
    assertThat(volume().secret("metaurl", given).parse().metaUrl().reveal()).isEqualTo(used);
  }

  @Test
  void metaurl_may_name_a_local_directory_for_the_embedded_default() {
    assertThat(volume().secret("metaurl", "local:///srv/vol").parse().localDirectory())
        .contains(Path.of("/srv/vol"));
    assertThat(volume().secret("metaurl", "/srv/vol").parse().localDirectory())
        .contains(Path.of("/srv/vol"));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "local://relative",
        "local:///a/../b",
        "/a/..",
        "1redis://x",
        "re dis://x",
        "redis://host\n:6379"
      })
  void bad_metaurls_are_refused_without_echoing_them(String url) {
    assertThat(volume().secret("metaurl", url).refusal())
        .contains("secret key 'metaurl'")
        .doesNotContain(url.strip());
  }

  @Test
  void a_trailing_newline_from_kubectl_from_file_is_dropped() {
    VolumeSettings s =
        volume()
            .secret("metaurl", "redis://h:6379/1\n")
            .secret("name", "myjfs\n")
            .secret("secret-key", "k3y\n")
            .parse();
    assertThat(s.metaUrl().reveal()).isEqualTo("redis://h:6379/1");
    assertThat(s.fsName()).isEqualTo("myjfs");
    assertThat(s.secretKey().orElseThrow().reveal()).isEqualTo("k3y");
  }

  @Test
  void legacy_accesskey_and_secretkey_are_accepted() {
    VolumeSettings s = volume().secret("accesskey", "AK").secret("secretkey", "SK").parse();
    assertThat(s.accessKey().orElseThrow().reveal()).isEqualTo("AK");
    assertThat(s.secretKey().orElseThrow().reveal()).isEqualTo("SK");
  }

  @Test
  void both_spellings_of_a_key_must_agree() {
    assertThat(volume().secret("access-key", "AK").secret("accesskey", "AK").parse().accessKey())
        .isPresent();
    assertThat(volume().secret("secret-key", "one1").secret("secretkey", "two2").refusal())
        .contains("'secret-key'")
        .contains("'secretkey'")
        .doesNotContain("one1")
        .doesNotContain("two2");
  }

  @Test
  void legacy_format_keys_of_older_secrets_become_format_options() {
    VolumeSettings s =
        volume()
            .secret("trash-days", "0")
            .secret("block-size", "4M")
            .secret("compress", "lz4")
            .secret("capacity", "100")
            .secret("inodes", "1000000")
            .secret("shards", "4")
            .parse();
    assertThat(s.formatOptions())
        .containsOnly(
            entry("trash-days", "0"),
            entry("block-size", "4M"),
            entry("compress", "lz4"),
            entry("capacity", "100"),
            entry("inodes", "1000000"),
            entry("shards", "4"));
  }

  @Test
  void format_options_are_checked_against_juicefs_format() {
    assertThat(volume().secret("format-options", "trash-days=1,bogus=2").refusal())
        .contains("format option 'bogus'")
        .contains("juicefs format");
    assertThat(volume().secret("format-options", "trash-days=s3cr3t").refusal())
        .contains("'trash-days'")
        .contains("whole number")
        .doesNotContain("s3cr3t");
    assertThat(volume().secret("format-options", "compress=gzip").refusal())
        .contains("'compress'")
        .contains("lz4");
    assertThat(volume().secret("format-options", "trash-days=").refusal())
        .contains("'trash-days'")
        .contains("needs a value");
    assertThat(
            volume().secret("format-options", "trash-days=1").secret("trash-days", "2").refusal())
        .contains("'trash-days'")
        .contains("twice");
  }

  @Test
  void format_options_accept_bare_flags_and_leading_dashes() {
    assertThat(
            volume()
                .secret("format-options", "--hash-prefix, enable-acl=true,--inodes=10")
                .parse()
                .formatOptions())
        .containsOnly(entry("hash-prefix", ""), entry("enable-acl", ""), entry("inodes", "10"));
  }

  @Test
  void storage_settings_inside_format_options_are_folded_into_their_fields() {
    VolumeSettings s =
        volume()
            .secret(
                "format-options",
                "storage=minio,bucket=http://m:9000/b,"
                    + "access-key=AK,secret-key=SK,trash-days=2")
            .parse();
    assertThat(s.storage()).contains("minio");
    assertThat(s.bucket()).contains("http://m:9000/b");
    assertThat(s.accessKey().orElseThrow().reveal()).isEqualTo("AK");
    assertThat(s.secretKey().orElseThrow().reveal()).isEqualTo("SK");
    assertThat(s.formatOptions()).containsOnly(entry("trash-days", "2"));
    assertThat(volume().secret("storage", "s3").secret("format-options", "storage=minio").refusal())
        .contains("'storage'")
        .contains("both");
  }

  @Test
  void envs_and_configs_must_be_usable() {
    assertThat(volume().secret("envs", "{\"A=B\": \"x\"}").refusal())
        .contains("secret key 'envs'")
        .contains("entry 1");
    assertThat(volume().secret("configs", "team-cert: relative/path").refusal())
        .contains("secret key 'configs'")
        .contains("entry 1")
        .doesNotContain("team-cert");
    assertThat(volume().secret("configs", "My_Secret: /etc/x").refusal())
        .contains("secret key 'configs'")
        .doesNotContain("My_Secret");
  }

  @Test
  void enterprise_and_unknown_keys_are_ignored() {
    VolumeSettings s =
        volume()
            .secret("token", "t")
            .secret("initconfig", "{}")
            .secret("jfsSettings", "{}")
            .secret("some-other-key", "x")
            .parse();
    assertThat(s.fsName()).isEqualTo("myjfs");
  }

  static final String PEM =
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIEsecretbody\n"
          + "-----END RSA PRIVATE KEY-----\n";

  @Test
  void an_rsa_key_is_formatted_from_a_file_and_its_passphrase_is_an_environment_variable() {
    VolumeSettings s =
        volume().secret("encrypt_rsa_key", PEM).secret("passphrase", "hunter2 pass\n").parse();
    assertThat(s.encryptRsaKey()).map(SecretValue::reveal).contains(PEM);
    assertThat(ClientCommand.DEFAULT.formatArgs(s))
        .contains("--encrypt-rsa-key=/root/.rsa/rsa-key.pem")
        .noneMatch(a -> a.contains("MIIE") || a.contains("hunter2"));
    assertThat(ClientCommand.DEFAULT.formatArgs(s, java.nio.file.Path.of("/k/key.pem")))
        .contains("--encrypt-rsa-key=/k/key.pem");
    assertThat(ClientCommand.environment(s)).containsEntry("JFS_RSA_PASSPHRASE", "hunter2 pass");
    assertThat(s.toString()).doesNotContain("MIIE", "hunter2");
    // Without a key file, no flag; the passphrase alone still reaches mount (an encrypted volume).
    VolumeSettings passOnly = volume().secret("passphrase", "hunter2").parse();
    assertThat(ClientCommand.DEFAULT.formatArgs(passOnly)).noneMatch(a -> a.contains("rsa"));
    assertThat(ClientCommand.environment(passOnly)).containsEntry("JFS_RSA_PASSPHRASE", "hunter2");
  }

  @Test
  void the_rsa_key_and_passphrase_are_part_of_the_settings_hash() {
    String plain = volume().parse().clientHash();
    assertThat(volume().secret("encrypt_rsa_key", PEM).parse().clientHash()).isNotEqualTo(plain);
    assertThat(volume().secret("passphrase", "x").parse().clientHash()).isNotEqualTo(plain);
    assertThat(volume().secret("passphrase", "").parse().clientHash()).isEqualTo(plain);
  }

  @Test
  void bad_encryption_keys_are_refused_without_their_values() {
    assertThat(volume().secret("encrypt_rsa_key", "not-a-pem-hunter2").refusal())
        .contains("'encrypt_rsa_key' is not a PEM private key")
        .doesNotContain("hunter2");
    assertThat(
            volume()
                .secret("encrypt_rsa_key", PEM)
                .secret("format-options", "encrypt-rsa-key=/etc/k.pem")
                .refusal())
        .contains("keep only 'encrypt_rsa_key'");
    assertThat(
            volume()
                .secret("passphrase", "hunter2")
                .secret("envs", "{JFS_RSA_PASSPHRASE: other-hunter3}")
                .refusal())
        .contains("different values")
        .doesNotContain("hunter");
    assertThat(volume().secret("passphrase", "a\nhunter2").refusal())
        .contains("line break")
        .doesNotContain("hunter2");
    // The same passphrase in both places is fine, as the Go driver's docs put it in envs.
    assertThat(
            volume()
                .secret("passphrase", "hunter2")
                .secret("envs", "{JFS_RSA_PASSPHRASE: hunter2}")
                .parse()
                .passphrase())
        .isPresent();
  }

  @Test
  void blank_optional_keys_mean_absent() {
    VolumeSettings s =
        volume().secret("storage", "").secret("bucket", " ").secret("envs", "").parse();
    assertThat(s.storage()).isEmpty();
    assertThat(s.bucket()).isEmpty();
    assertThat(s.envs()).isEmpty();
  }
}

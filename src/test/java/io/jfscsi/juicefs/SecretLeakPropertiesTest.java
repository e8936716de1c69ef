package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.testing.Trials;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.Test;

/**
 * Whatever a Secret holds, no refusal message and no toString ever shows it, and command lines are
 * safe to log only once redacted.
 */
class SecretLeakPropertiesTest {

  /**
   * A placement of a random secret value into an otherwise valid volume; {@code credential} when
   * redacted command lines must hide it too (name, storage and bucket stay readable there, as
   * identifiers an operator needs in the client log).
   */
  record Placement(String description, boolean credential, Function<String, Volumes> build) {
    @Override
    public String toString() {
      return description;
    }
  }

  private static final String LETTERS =
      "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";

  /**
   * Long enough that it cannot appear in a message by chance; the punctuation exercises quoting,
   * separators and URL syntax.
   */
  static String secretValue(Random random) {
    String value;
    do {
      value = Trials.string(random, LETTERS + ":/@=,{}\"' #.-_\n\t", 12, 40);
    } while (value.strip().length() < 12);
    return value;
  }

  static String password(Random random) {
    return Trials.string(random, LETTERS, 12, 30);
  }

  static final List<Placement> PLACEMENTS =
      List.of(
          new Placement("name", false, v -> volume().secret("name", v)),
          new Placement("metaurl", true, v -> volume().secret("metaurl", v)),
          new Placement("metaurl scheme", true, v -> volume().secret("metaurl", "9" + v + "://h")),
          new Placement("local metaurl", true, v -> volume().secret("metaurl", "local://" + v)),
          new Placement("storage", false, v -> volume().secret("storage", v)),
          new Placement("bucket", false, v -> volume().secret("bucket", v)),
          new Placement("access-key", true, v -> volume().secret("access-key", v)),
          new Placement("secret-key", true, v -> volume().secret("secret-key", v)),
          new Placement(
              "two spellings",
              true,
              v -> volume().secret("secret-key", v).secret("secretkey", "x" + v)),
          new Placement("token", true, v -> volume().secret("metaurl", null).secret("token", v)),
          new Placement("passphrase", true, v -> volume().secret("passphrase", v)),
          new Placement(
              "rsa key",
              true,
              v ->
                  volume()
                      .secret(
                          "encrypt_rsa_key",
                          "-----BEGIN RSA PRIVATE KEY-----\n"
                              + v
                              + "\n-----END RSA PRIVATE KEY-----")),
          new Placement(
              "format value", false, v -> volume().secret("format-options", "trash-days=" + v)),
          new Placement(
              "format choice", false, v -> volume().secret("format-options", "compress=" + v)),
          new Placement(
              "format key twice",
              true,
              v ->
                  volume().secret("format-options", "session-token=" + v + ",session-token=x" + v)),
          new Placement(
              "format folded",
              false,
              v -> volume().secret("storage", "s3").secret("format-options", "storage=" + v)),
          new Placement("legacy format key", false, v -> volume().secret("inodes", v)),
          new Placement("envs text", true, v -> volume().secret("envs", v)),
          new Placement(
              "envs json value", true, v -> volume().secret("envs", "{\"A\": \"" + v + "\"}")),
          new Placement("envs yaml", true, v -> volume().secret("envs", "A: " + v)),
          new Placement("envs name", true, v -> volume().secret("envs", "{\"" + v + "\": \"x\"}")),
          new Placement("configs", true, v -> volume().secret("configs", v)),
          new Placement("configs path", true, v -> volume().secret("configs", "ca: " + v)),
          new Placement("configs name", true, v -> volume().secret("configs", v + ": /etc/x")));

  @Test
  void no_refusal_or_toString_shows_a_secret_value() {
    AtomicInteger accepted = new AtomicInteger();
    AtomicInteger refused = new AtomicInteger();
    Trials.run(
        "no_refusal_or_toString_shows_a_secret_value",
        600,
        random ->
            tryPlacement(Trials.pick(random, PLACEMENTS), secretValue(random), accepted, refused));
    // Both outcomes must be exercised, or the trial proves nothing about one of them.
    assertThat(accepted.get()).isPositive();
    assertThat(refused.get()).isPositive();
  }

  private static void tryPlacement(
      Placement placement, String value, AtomicInteger accepted, AtomicInteger refusedCount) {
    Volumes volume = placement.build().apply(value);
    String needle = value.strip();
    try {
      VolumeSettings settings = volume.parse();
      accepted.incrementAndGet();
      assertThat(settings.toString()).doesNotContain(needle);
      assertThat(settings.source().toString()).doesNotContain(needle);
      if (placement.credential() && settings.localDirectory().isEmpty()) {
        assertThat(ClientCommand.redacted(ClientCommand.DEFAULT.formatArgs(settings)).toString())
            .doesNotContain(needle);
        assertThat(
                ClientCommand.redacted(
                        ClientCommand.DEFAULT.mountArgs(settings, Path.of("/jfs/pv-1")))
                    .toString())
            .doesNotContain(needle);
      }
      assertThat(settings.clientHash()).doesNotContain(needle);
    } catch (Failure refused) {
      refusedCount.incrementAndGet();
      assertThat(refused.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
      assertThat(refused.getMessage()).doesNotContain(needle);
      assertThat(refused.toString()).doesNotContain(needle);
    }
  }

  @Test
  void redacted_command_lines_never_show_credentials() {
    Trials.run(
        "redacted_command_lines_never_show_credentials",
        100,
        random -> redactedCommandLine(password(random), password(random)));
  }

  private static void redactedCommandLine(String password, String key) {
    VolumeSettings settings =
        volume()
            .secret("metaurl", "redis://:" + password + "@h:6379/1")
            .secret("storage", "redis")
            .secret("bucket", "redis://user:" + password + "@b:6379/2")
            .secret("access-key", key)
            .secret("secret-key", key + "S")
            .secret("format-options", "session-token=" + key + "T")
            .parse();
    List<String> format = ClientCommand.DEFAULT.formatArgs(settings);
    assertThat(format).anyMatch(a -> a.contains(password));
    assertThat(ClientCommand.redacted(format).toString())
        .doesNotContain(password)
        .doesNotContain(key);
    assertThat(format)
        .as("the session token is never on argv, not even to be redacted")
        .noneMatch(a -> a.contains(key + "T") || a.contains("session-token"));
    assertThat(ClientCommand.environment(settings)).containsEntry("SESSION_TOKEN", key + "T");
    List<String> mount = ClientCommand.DEFAULT.mountArgs(settings, Path.of("/mnt/x"));
    assertThat(ClientCommand.redacted(mount).toString()).doesNotContain(password);
  }

  @Test
  void secret_values_survive_parsing_unchanged() {
    Trials.run(
        "secret_values_survive_parsing_unchanged",
        50,
        random -> {
          String key = password(random);
          VolumeSettings settings = volume().secret("secret-key", key).parse();
          assertThat(settings.secretKey().orElseThrow().reveal()).isEqualTo(key);
        });
  }
}

package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import java.nio.file.Path;
import java.util.List;
import java.util.function.Function;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.statistics.Statistics;

/**
 * Whatever a Secret holds, no refusal message and no toString ever shows it, and command lines
 * are safe to log only once redacted.
 */
class SecretLeakPropertiesTest {

  /**
   * A placement of a random secret value into an otherwise valid volume; {@code credential}
   * when redacted command lines must hide it too (name, storage and bucket stay readable there,
   * as identifiers an operator needs in the client log).
   */
  record Placement(String description, boolean credential, Function<String, Volumes> build) {
    @Override
    public String toString() {
      return description;
    }
  }

  @Provide
  Arbitrary<String> secretValues() {
    // Long enough that it cannot appear in a message by chance; the punctuation exercises
    // quoting, separators and URL syntax.
    return Arbitraries.strings().withCharRange('a', 'z').withCharRange('A', 'Z')
        .withCharRange('0', '9').withChars(":/@=,{}\"' #.-_\n\t").ofMinLength(12).ofMaxLength(40)
        .filter(s -> s.strip().length() >= 12);
  }

  @Provide
  Arbitrary<Placement> placements() {
    List<Placement> all = List.of(
        new Placement("name", false, v -> volume().secret("name", v)),
        new Placement("metaurl", true, v -> volume().secret("metaurl", v)),
        new Placement("metaurl scheme", true, v -> volume().secret("metaurl", "9" + v + "://h")),
        new Placement("local metaurl", true, v -> volume().secret("metaurl", "local://" + v)),
        new Placement("storage", false, v -> volume().secret("storage", v)),
        new Placement("bucket", false, v -> volume().secret("bucket", v)),
        new Placement("access-key", true, v -> volume().secret("access-key", v)),
        new Placement("secret-key", true, v -> volume().secret("secret-key", v)),
        new Placement("two spellings", true, v -> volume().secret("secret-key", v).secret("secretkey", "x" + v)),
        new Placement("token", true, v -> volume().secret("metaurl", null).secret("token", v)),
        new Placement("passphrase", true, v -> volume().secret("passphrase", v)),
        new Placement("format value", false, v -> volume().secret("format-options", "trash-days=" + v)),
        new Placement("format choice", false, v -> volume().secret("format-options", "compress=" + v)),
        new Placement("format key twice", true, v -> volume().secret("format-options", "session-token="
            + v + ",session-token=x" + v)),
        new Placement("format folded", false, v -> volume().secret("storage", "s3")
            .secret("format-options", "storage=" + v)),
        new Placement("legacy format key", false, v -> volume().secret("inodes", v)),
        new Placement("envs text", true, v -> volume().secret("envs", v)),
        new Placement("envs json value", true, v -> volume().secret("envs", "{\"A\": \"" + v + "\"}")),
        new Placement("envs yaml", true, v -> volume().secret("envs", "A: " + v)),
        new Placement("envs name", true, v -> volume().secret("envs", "{\"" + v + "\": \"x\"}")),
        new Placement("configs", true, v -> volume().secret("configs", v)),
        new Placement("configs path", true, v -> volume().secret("configs", "ca: " + v)),
        new Placement("configs name", true, v -> volume().secret("configs", v + ": /etc/x")));
    return Arbitraries.of(all);
  }

  @Property(tries = 600)
  void no_refusal_or_toString_shows_a_secret_value(@ForAll("placements") Placement placement,
                                                   @ForAll("secretValues") String value) {
    Volumes volume = placement.build().apply(value);
    String needle = value.strip();
    try {
      VolumeSettings settings = volume.parse();
      Statistics.collect("accepted");
      assertThat(settings.toString()).doesNotContain(needle);
      assertThat(settings.source().toString()).doesNotContain(needle);
      if (placement.credential() && settings.localDirectory().isEmpty()) {
        assertThat(ClientCommand.redacted(ClientCommand.DEFAULT.formatArgs(settings)).toString())
            .doesNotContain(needle);
        assertThat(ClientCommand.redacted(
            ClientCommand.DEFAULT.mountArgs(settings, Path.of("/jfs/pv-1"))).toString())
            .doesNotContain(needle);
      }
      assertThat(settings.clientHash()).doesNotContain(needle);
    } catch (Failure refused) {
      Statistics.collect("refused");
      assertThat(refused.code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
      assertThat(refused.getMessage()).doesNotContain(needle);
      assertThat(refused.toString()).doesNotContain(needle);
    }
  }

  @Provide
  Arbitrary<String> passwords() {
    return Arbitraries.strings().alpha().numeric().ofMinLength(12).ofMaxLength(30);
  }

  @Property(tries = 100)
  void redacted_command_lines_never_show_credentials(@ForAll("passwords") String password,
                                                     @ForAll("passwords") String key) {
    VolumeSettings settings = volume().secret("metaurl", "redis://:" + password + "@h:6379/1")
        .secret("storage", "redis").secret("bucket", "redis://user:" + password + "@b:6379/2")
        .secret("access-key", key).secret("secret-key", key + "S")
        .secret("format-options", "session-token=" + key + "T").parse();
    List<String> format = ClientCommand.DEFAULT.formatArgs(settings);
    assertThat(format).anyMatch(a -> a.contains(password));
    assertThat(ClientCommand.redacted(format).toString()).doesNotContain(password).doesNotContain(key);
    List<String> mount = ClientCommand.DEFAULT.mountArgs(settings, Path.of("/mnt/x"));
    assertThat(ClientCommand.redacted(mount).toString()).doesNotContain(password);
  }

  @Property(tries = 50)
  void secret_values_survive_parsing_unchanged(@ForAll("passwords") String key) {
    VolumeSettings settings = volume().secret("secret-key", key).parse();
    assertThat(settings.secretKey().orElseThrow().reveal()).isEqualTo(key);
  }
}

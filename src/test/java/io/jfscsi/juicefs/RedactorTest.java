package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.TestVolumes;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedactorTest {

  @Test
  void masksSecretValuesAndUrlPasswordsButNotNames() {
    VolumeSettings s = TestVolumes.juicefs("vol", List.of());
    Redactor r = Redactor.forSettings(s);
    String text =
        "mount "
            + s.metaUrl().reveal()
            + " of jfsvol on file storage; key "
            + TestVolumes.ACCESS_KEY
            + "/"
            + TestVolumes.SECRET_KEY
            + "; redis://:"
            + TestVolumes.META_PASSWORD
            + "@other";
    String out = r.redact(text);
    assertThat(out)
        .doesNotContain(TestVolumes.META_PASSWORD, TestVolumes.ACCESS_KEY, TestVolumes.SECRET_KEY)
        .contains("mount ******", "of jfsvol on file storage", "redis://:******@other");
  }

  @Test
  void masksTheSessionTokenThoughFormatOptionsStayVisible() {
    Redactor r = Redactor.forSettings(TestVolumes.juicefs("vol", List.of()));
    assertThat(r.redact("format --trash-days=0 token " + TestVolumes.SESSION_TOKEN))
        .isEqualTo("format --trash-days=0 token ******");
  }

  @Test
  void localDirectoryStaysVisible() {
    Path dir = Path.of("/srv/data");
    Redactor r = Redactor.forSettings(TestVolumes.local("vol", dir));
    assertThat(r.redact("bindfs: cannot open /srv/data with " + TestVolumes.SECRET_KEY))
        .isEqualTo("bindfs: cannot open /srv/data with ******");
  }
}

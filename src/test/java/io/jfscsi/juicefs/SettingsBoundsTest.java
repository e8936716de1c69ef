package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every duration and size is bounded where it is parsed: a value no timer, cgroup file or client
 * flag can hold is refused with a message that names the key and the bound, instead of failing
 * later in a timer, a kernel call or a client that does not start.
 */
class SettingsBoundsTest {

  @Test
  void theLongestDeleteDelayIsAcceptedAndOneSecondMoreIsNot() {
    assertThat(volume().context("juicefs/mount-delete-delay", "8760h").parse().deleteDelay())
        .isEqualTo(VolumeSettings.MAX_DELETE_DELAY);
    assertThat(volume().context("juicefs/mount-delete-delay", "8760h1s").refusal())
        .contains("'juicefs/mount-delete-delay'")
        .contains("longest")
        .contains("8760h");
  }

  @ParameterizedTest
  @ValueSource(strings = {"8761h", "2562047h", "9999999999h"})
  void aDeleteDelayBeyondTheSchedulersReachIsRefused(String given) {
    assertThat(volume().context("juicefs/mount-delete-delay", given).refusal())
        .contains("'juicefs/mount-delete-delay'");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "juicefs/mount-cpu-limit=100001",
        "juicefs/mount-cpu-request=1e9",
        "juicefs/mount-memory-limit=2Ei",
        "juicefs/mount-memory-request=9e30"
      })
  void resourcesBeyondAnyNodeAreRefused(String entry) {
    String[] kv = entry.split("=");
    assertThat(volume().context(kv[0], kv[1]).refusal()).contains(kv[0]).contains("too large");
  }

  @Test
  void resourcesAtTheirBoundsAreAccepted() {
    var resources =
        volume()
            .context("juicefs/mount-cpu-limit", "100000")
            .context("juicefs/mount-memory-limit", "1Ei")
            .parse()
            .resources();
    assertThat(resources.cpuLimitMillis()).contains(100_000_000L);
    assertThat(resources.memoryLimitBytes()).contains(1L << 60);
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "cache-size=99999999999999999999",
        "cache-size=9E",
        "buffer-size=8796093022208",
        "attr-cache=9223372037",
        "io-retries=2147483648",
        "max-uploads=99999999999999999999999"
      })
  void mountOptionsBeyondWhatTheClientCanParseAreRefused(String flag) {
    assertThat(volume().mountFlags(flag).refusal()).contains(flag.substring(0, flag.indexOf('=')));
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "cache-size=102400",
        "buffer-size=8796093022207",
        "attr-cache=9223372036",
        "io-retries=2147483647",
        "attr-cache=2562047h"
      })
  void mountOptionsAtTheirBoundsAreAccepted(String flag) {
    assertThat(volume().mountFlags(flag).parse().mountOptions()).contains(flag);
  }

  @Test
  void anOptionValueLongerThanACsiMapEntryIsRefusedWithoutBeingEchoed() {
    String huge = "x".repeat(5000);
    assertThat(volume().mountFlags("subdir=" + huge).refusal())
        .contains("5000 characters")
        .doesNotContain(huge.substring(0, 200));
  }

  @Test
  void aSubPathElementLongerThanAFileNameIsRefused() {
    assertThat(volume().context("subPath", "a/" + "é".repeat(127) + "/b").parse().subPath())
        .hasSize(131);
    assertThat(volume().context("subPath", "a/" + "é".repeat(128)).refusal())
        .contains("'subPath'")
        .contains("255 bytes");
    assertThat(volume().context("subPath", "é".repeat(300)).refusal())
        .doesNotContain("é".repeat(129));
    assertThat(volume().context("subPath", "abcdefgh/".repeat(500)).refusal())
        .contains("'subPath'")
        .contains("4096 bytes");
  }

  @Test
  void goDurationsStopAtWhatAnInt64OfNanosecondsHolds() {
    assertThat(GoDuration.parse("2562047h").duration()).contains(Duration.ofHours(2562047));
    assertThat(GoDuration.parse("2562048h").problem()).contains("too long");
  }
}

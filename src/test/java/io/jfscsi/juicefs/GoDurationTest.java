package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class GoDurationTest {

  @ParameterizedTest(name = "{0} is {1} ms")
  @CsvSource({
    "0, 0",
    "30s, 30000",
    "1m30s, 90000",
    "1h, 3600000",
    "500ms, 500",
    "1.5h, 5400000",
    "2h45m, 9900000",
    ".5s, 500",
    "1.s, 1000",
    "1000000us, 1000",
    "1000000000ns, 1000",
    "+10s, 10000",
    "-10s, -10000",
    "1h0m0s, 3600000",
    "0s, 0"
  })
  void reads_durations_the_way_go_does(String text, long millis) {
    assertThat(GoDuration.parse(text).duration()).contains(Duration.ofMillis(millis));
  }

  @ParameterizedTest
  @ValueSource(strings = {"\u00b5s", "\u03bcs"})
  void accepts_both_micro_signs_like_go(String unit) {
    assertThat(GoDuration.parse("3" + unit).duration()).contains(Duration.ofNanos(3000));
  }

  @ParameterizedTest(name = "\"{0}\" is refused")
  @ValueSource(
      strings = {
        "",
        "30",
        "1d",
        "s",
        "1.2.3s",
        "h1",
        "1 h",
        "-",
        "1m 30s",
        ".s",
        "1e3s",
        "10S",
        "99999999999999h"
      })
  void refuses_what_go_refuses(String text) {
    GoDuration.Result result = GoDuration.parse(text);
    assertThat(result.duration()).isEmpty();
    assertThat(result.problem()).isNotBlank();
  }
}

package io.jfscsi.mount;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The publish answer deadline must let the answer reach kubelet; the defaults do. */
class MountSettingsTest {

  static Config with(Map<String, Object> overrides) {
    return ConfigFactory.parseMap(overrides)
        .withFallback(ConfigFactory.load())
        .resolve()
        .getConfig("jfs-csi");
  }

  @Test
  void theDefaultsAnswerComfortablyBeforeKubeletsDeadline() {
    MountSettings s = MountSettings.from(with(Map.of()));
    assertThat(s.answerDeadline()).isEqualTo(Duration.ofSeconds(100));
    assertThat(s.retryGrace())
        .isEqualTo(Duration.ofSeconds(150))
        .as("longer than kubelet's longest retry delay, 2m2s")
        .isGreaterThan(Duration.ofSeconds(122));
  }

  @Test
  void anAnswerDeadlineAtOrAboveKubeletsIsRefused() {
    assertThatThrownBy(
            () ->
                MountSettings.from(
                    with(
                        Map.of(
                            "jfs-csi.publish-answer-deadline",
                            "120s",
                            "jfs-csi.call-timeout",
                            "300s"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("jfs-csi.publish-answer-deadline = PT2M is out of range")
        .hasMessageContaining("below kubelet's 120 s deadline");
  }

  @Test
  void anAnswerDeadlineAtOrAboveTheCallTimeoutIsRefused() {
    assertThatThrownBy(() -> MountSettings.from(with(Map.of("jfs-csi.call-timeout", "30s"))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must be below jfs-csi.call-timeout (PT30S)");
    assertThat(
            MountSettings.from(
                    with(
                        Map.of(
                            "jfs-csi.call-timeout",
                            "30s",
                            "jfs-csi.publish-answer-deadline",
                            "25s")))
                .answerDeadline())
        .isEqualTo(Duration.ofSeconds(25));
  }

  @Test
  void aZeroAnswerDeadlineOrGraceIsRefused() {
    assertThatThrownBy(
            () -> MountSettings.from(with(Map.of("jfs-csi.publish-answer-deadline", "0s"))))
        .hasMessageContaining("must be above 0");
    assertThatThrownBy(() -> MountSettings.from(with(Map.of("jfs-csi.publish-retry-grace", "0s"))))
        .hasMessageContaining("must be above 0");
  }
}

package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ManagementSettingsTest {

  @Test
  void defaultsFromReferenceConf() {
    ManagementSettings s =
        ManagementSettings.from(ConfigFactory.defaultReference().getConfig("jfs-csi"));
    assertThat(s).isEqualTo(new ManagementSettings(true, "127.0.0.1", 9567, Optional.empty()));
  }

  @Test
  void pekkoManagementFollowsOurKeysAndServesOurRoutes() {
    Config c =
        new ManagementSettings(true, "0.0.0.0", 1234, Optional.of("t"))
            .applyTo(ConfigFactory.load());
    assertThat(c.getString("pekko.management.http.hostname")).isEqualTo("0.0.0.0");
    assertThat(c.getInt("pekko.management.http.port")).isEqualTo(1234);
    assertThat(c.getString("pekko.management.http.routes.health-checks")).isEmpty();
    assertThat(c.getString("pekko.management.http.routes.jfs-csi"))
        .isEqualTo(ManagementRoutes.class.getName());
    assertThat(c.getString("pekko.management.health-checks.readiness-checks.jfs-csi"))
        .isEqualTo(ReadinessCheck.class.getName());
    assertThat(c.getDuration("pekko.management.health-checks.check-timeout"))
        .isEqualTo(ManagementSettings.CHECK_TIMEOUT);
  }

  @Test
  void portOutOfRangeIsRefused() {
    assertThatThrownBy(() -> new ManagementSettings(true, "127.0.0.1", 70000, Optional.empty()))
        .hasMessageContaining("jfs-csi.management.port must be 0 through 65535");
  }

  @Test
  void theHttpIdleTimeoutOutlastsASingleUpgradeAndALongerOneIsKept() {
    ManagementSettings settings = new ManagementSettings(true, "127.0.0.1", 0, Optional.empty());
    String idle = "pekko.http.server.idle-timeout";

    assertThat(settings.applyTo(ConfigFactory.load()).getDuration(idle))
        .isEqualTo(java.time.Duration.ofMinutes(12));
    Config longer =
        ConfigFactory.parseMap(java.util.Map.of(idle, "30m")).withFallback(ConfigFactory.load());
    assertThat(settings.applyTo(longer).getDuration(idle))
        .isEqualTo(java.time.Duration.ofMinutes(30));
    Config infinite =
        ConfigFactory.parseMap(java.util.Map.of(idle, "infinite"))
            .withFallback(ConfigFactory.load());
    assertThat(settings.applyTo(infinite).getString(idle)).isEqualTo("infinite");
  }
}

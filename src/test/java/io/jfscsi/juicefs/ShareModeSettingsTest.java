package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** Which unique id a volume's client gets in each share mode, and where the modes are read. */
class ShareModeSettingsTest {
  static final VolumeSettings VOLUME =
      SettingsParser.parse(
          new VolumeSource(
              "pvc-1",
              Map.of("name", "myfs", "metaurl", "redis://meta/1"),
              Map.of("subPath", "pvc-1"),
              List.of()));

  @Test
  void byDefaultEachVolumeHasItsOwnClient() {
    ShareMode mode = ShareMode.from(ConfigFactory.load().getConfig("jfs-csi"));
    assertThat(mode).isEqualTo(ShareMode.NONE);
    assertThat(mode.uniqueId(VOLUME, Optional.of("sc-1"))).isEqualTo("pvc-1");
  }

  @Test
  void theStorageClassModeNamesTheClientAfterTheVolumesClassWhenItHasOne() {
    ShareMode mode = new ShareMode(true, false);
    assertThat(mode.uniqueId(VOLUME, Optional.of("sc-1"))).isEqualTo("sc-1");
    // A static PV without a class, an inline volume, a templated class, no cluster.
    assertThat(mode.uniqueId(VOLUME, Optional.empty())).isEqualTo("pvc-1");
    assertThat(mode.uniqueId(VOLUME, Optional.of(""))).isEqualTo("pvc-1");
  }

  @Test
  void theFileSystemModeNamesTheClientAfterTheFileSystemAndWinsOverTheClassMode() {
    assertThat(new ShareMode(false, true).uniqueId(VOLUME, Optional.empty())).isEqualTo("myfs");
    assertThat(new ShareMode(true, true).uniqueId(VOLUME, Optional.of("sc-1"))).isEqualTo("myfs");
  }

  @Test
  void theGoDriversVariablesSwitchThemOnAndAnythingButABooleanFailsTheStart() {
    // reference.conf's substitutions, resolved against these variables as against the environment.
    var c =
        ConfigFactory.parseFile(new File("src/main/resources/reference.conf"))
            .withFallback(
                ConfigFactory.parseMap(
                    Map.of("STORAGE_CLASS_SHARE_MOUNT", "true", "FS_SHARE_MOUNT", "false")))
            .resolve()
            .getConfig("jfs-csi");
    assertThat(ShareMode.from(c)).isEqualTo(new ShareMode(true, false));
    var bad =
        ConfigFactory.parseMap(Map.of("jfs-csi.share-mount.file-system", "sometimes"))
            .withFallback(ConfigFactory.load())
            .getConfig("jfs-csi");
    assertThatThrownBy(() -> ShareMode.from(bad))
        .isInstanceOf(ConfigException.WrongType.class)
        .hasMessageContaining("share-mount.file-system");
  }
}

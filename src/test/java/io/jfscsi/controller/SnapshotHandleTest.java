package io.jfscsi.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import org.junit.jupiter.api.Test;

class SnapshotHandleTest {

  @Test
  void theGoDriversHandleIsNameBarVolumeAndItsDirectoryIsUnderDotSnapshots() {
    SnapshotHandle handle =
        SnapshotHandle.parse("snapshot-5f2a7c1e-0b3d-4e8f-9a6b-1c2d3e4f5a6b|pvc-42").orElseThrow();
    assertThat(handle.name()).isEqualTo("snapshot-5f2a7c1e-0b3d-4e8f-9a6b-1c2d3e4f5a6b");
    assertThat(handle.sourceVolumeId()).isEqualTo("pvc-42");
    assertThat(handle.path())
        .isEqualTo(".snapshots/pvc-42/snapshot-5f2a7c1e-0b3d-4e8f-9a6b-1c2d3e4f5a6b");
    assertThat(handle.id()).isEqualTo("snapshot-5f2a7c1e-0b3d-4e8f-9a6b-1c2d3e4f5a6b|pvc-42");
  }

  @Test
  void anIdThatIsNotOneNameAndOneVolumeNamesNoSnapshot() {
    assertThat(SnapshotHandle.parse("no-bar")).isEmpty();
    assertThat(SnapshotHandle.parse("a|b|c")).isEmpty();
    assertThat(SnapshotHandle.parse("|pvc")).isEmpty();
    assertThat(SnapshotHandle.parse("snap|")).isEmpty();
    assertThat(SnapshotHandle.parse("../../etc|pvc")).isEmpty();
    assertThat(SnapshotHandle.parse("snap|..")).isEmpty();
    assertThat(SnapshotHandle.parse("snap|a/b")).isEmpty();
    assertThat(SnapshotHandle.parse("sn\nap|pvc")).isEmpty();
    assertThatThrownBy(() -> new SnapshotHandle("a/b", "pvc"))
        .isInstanceOf(IllegalArgumentException.class);
  }
}

package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** statvfs figures of a tmpfs mounted for the test; needs root. */
class LinuxMounterStatsTest {
  private static final long MIB = 1024 * 1024;

  @TempDir Path tempDir;

  private final LinuxMounter mounter = new LinuxMounter();
  private MountSandbox sandbox;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    sandbox = new MountSandbox(tempDir);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (sandbox != null) {
      sandbox.close();
    }
  }

  @Test
  void statsOfA16MibTmpfsReportItsSizeAndInodes() throws Exception {
    Path tmpfs = sandbox.dir("tmpfs");
    sandbox.mountTmpfs(tmpfs, "size=16m");
    Files.write(tmpfs.resolve("one-mib"), new byte[(int) MIB]);

    FsStats stats = mounter.stats(tmpfs);

    assertThat(stats.totalBytes()).isEqualTo(16 * MIB);
    assertThat(stats.usedBytes()).isBetween(MIB, 2 * MIB);
    assertThat(stats.availableBytes()).isEqualTo(stats.totalBytes() - stats.usedBytes());
    assertThat(stats.totalInodes()).isPositive();
    assertThat(stats.freeInodes()).isPositive();
    assertThat(stats.usedInodes())
        .isEqualTo(stats.totalInodes() - stats.freeInodes())
        .isGreaterThanOrEqualTo(2);
  }

  @Test
  void statsThroughABindAreThoseOfTheBoundFileSystem() throws Exception {
    Path tmpfs = sandbox.dir("tmpfs");
    sandbox.mountTmpfs(tmpfs, "size=16m");
    Path target = sandbox.dir("target");
    mounter.bind(Files.createDirectories(tmpfs.resolve("sub")), target, true);

    assertThat(mounter.stats(target).totalBytes()).isEqualTo(16 * MIB);
  }

  @Test
  void statsOfAMissingPathFailWithEnoent() {
    Path missing = tempDir.resolve("missing");

    assertThatThrownBy(() -> mounter.stats(missing))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.errno()).isEqualTo(2))
        .hasMessageContaining(missing.toString());
  }
}

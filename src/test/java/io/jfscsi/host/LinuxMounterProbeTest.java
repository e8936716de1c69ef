package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What probe finds at real paths, real binds and real (killed or stopped) FUSE clients. */
class LinuxMounterProbeTest {
  private static final Duration PROBE_TIMEOUT = Duration.ofMillis(500);

  @TempDir Path tempDir;

  private final LinuxMounter mounter = new LinuxMounter(PROBE_TIMEOUT);
  private MountSandbox sandbox;
  private Path source;
  private Path target;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    sandbox = new MountSandbox(tempDir);
    source = sandbox.dir("source");
    target = sandbox.dir("target");
    Files.createDirectories(source.resolve("sub"));
    Files.writeString(source.resolve("sub/data.txt"), "data");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (sandbox != null) {
      sandbox.close();
    }
  }

  @Test
  void aPathThatDoesNotExistIsMissing() {
    assertThat(mounter.probe(tempDir.resolve("nothing"))).isEqualTo(MountState.MISSING);
    assertThat(mounter.probe(source.resolve("sub/data.txt/below-a-file")))
        .isEqualTo(MountState.MISSING);
  }

  @Test
  void aPlainDirectoryOrFileIsNotMounted() {
    assertThat(mounter.probe(target)).isEqualTo(MountState.NOT_MOUNTED);
    assertThat(mounter.probe(source.resolve("sub/data.txt"))).isEqualTo(MountState.NOT_MOUNTED);
  }

  @Test
  void aBindTargetIsMountedAndNotMountedAgainAfterUnmount() throws Exception {
    mounter.bind(source.resolve("sub"), target, false);

    assertThat(mounter.probe(target)).isEqualTo(MountState.MOUNTED);
    assertThat(mounter.probe(target.resolve("data.txt"))).isEqualTo(MountState.NOT_MOUNTED);

    mounter.unmount(target);

    assertThat(mounter.probe(target)).isEqualTo(MountState.NOT_MOUNTED);
  }

  @Test
  void aKilledFuseClientLeavesItsMountAndBindsOfItStaleUntilUnmountedAndBoundAgain()
      throws Exception {
    HostRequirements.requireFuse();
    Path fuse = sandbox.dir("fuse");
    Process client = sandbox.startBindfs(source, fuse);
    mounter.bind(fuse.resolve("sub"), target, false);
    assertThat(mounter.probe(fuse)).isEqualTo(MountState.MOUNTED);
    assertThat(mounter.probe(target)).isEqualTo(MountState.MOUNTED);
    assertThat(target.resolve("data.txt")).hasContent("data");

    client.destroyForcibly();
    assertThat(client.waitFor(10, TimeUnit.SECONDS)).isTrue();

    assertThat(mounter.probe(fuse)).isEqualTo(MountState.STALE);
    assertThat(mounter.probe(target)).isEqualTo(MountState.STALE);
    assertThat(mounter.isMountPoint(target)).isTrue();

    mounter.unmount(target);
    mounter.unmount(fuse);

    assertThat(mounter.probe(target)).isEqualTo(MountState.NOT_MOUNTED);
    assertThat(mounter.probe(fuse)).isEqualTo(MountState.NOT_MOUNTED);
    assertThat(sandbox.mountsUnderRoot()).isEmpty();

    sandbox.startBindfs(source, fuse);
    mounter.bind(fuse.resolve("sub"), target, true);

    assertThat(mounter.probe(target)).isEqualTo(MountState.MOUNTED);
    assertThat(target.resolve("data.txt")).hasContent("data");
  }

  @Test
  void aStoppedFuseClientIsReportedStaleWithinTheTimeoutInsteadOfHanging() throws Exception {
    HostRequirements.requireFuse();
    Path fuse = sandbox.dir("fuse");
    Process client = sandbox.startBindfs(source, fuse);
    mounter.bind(fuse.resolve("sub"), target, false);
    assertThat(mounter.probe(target)).isEqualTo(MountState.MOUNTED);

    sandbox.signal(client, "STOP");

    assertProbeIsStaleWithinTheTimeout(fuse);
    assertProbeIsStaleWithinTheTimeout(target);
    // A second probe joins the stat still hanging instead of blocking another thread.
    assertProbeIsStaleWithinTheTimeout(target);
    long start = System.nanoTime();
    assertThatThrownBy(() -> mounter.stats(target))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.errno()).isEqualTo(110));
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isLessThan(PROBE_TIMEOUT.multipliedBy(4));

    sandbox.signal(client, "CONT");

    assertThat(mounter.probe(target)).isEqualTo(MountState.MOUNTED);
    mounter.unmount(target);
    assertThat(mounter.probe(target)).isEqualTo(MountState.NOT_MOUNTED);
  }

  private void assertProbeIsStaleWithinTheTimeout(Path path) {
    long start = System.nanoTime();

    MountState state = mounter.probe(path);

    assertThat(state).as("probe of %s", path).isEqualTo(MountState.STALE);
    assertThat(Duration.ofNanos(System.nanoTime() - start))
        .isGreaterThanOrEqualTo(PROBE_TIMEOUT)
        .isLessThan(PROBE_TIMEOUT.multipliedBy(4));
  }
}

package io.jfscsi;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.management.DriverMetrics;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.FakeContainerRecovery;
import io.jfscsi.testing.FakeMounter;
import io.jfscsi.testing.FakeRuntime;
import io.jfscsi.testing.TestClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node guardian that cannot start (its runtime cannot list the clients recorded on the node, as
 * when the API server does not answer) must not leave a process that answers nothing and is never
 * restarted: the driver stops, and {@code serve} exits 1 so that kubelet starts it again.
 */
class DriverStopsWithItsGuardianTest {

  @Test
  void aGuardianThatCannotStartStopsTheDriver(@TempDir Path dir) throws Exception {
    DriverFixture fixture = new DriverFixture(dir);
    FakeMounter mounter = new FakeMounter();
    FakeRuntime runtime =
        new FakeRuntime(mounter, Files.createDirectories(dir.resolve("mnt")), new TestClock());
    CountDownLatch started = new CountDownLatch(1);
    runtime.failLoad(
        new Failure(
            Failure.Code.UNAVAILABLE, "the Mount Pods of node n could not be listed (test)"),
        started);
    Driver driver =
        Driver.start(
            fixture.config(),
            new Driver.HostParts(
                runtime, mounter, new FakeContainerRecovery(), new DriverMetrics(), runtime));
    started.countDown();
    driver.system().getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertThat(driver.failed()).isTrue();
  }

  @Test
  void aDriverClosedOnPurposeHasNotFailed(@TempDir Path dir) throws Exception {
    DriverFixture fixture = new DriverFixture(dir);
    FakeMounter mounter = new FakeMounter();
    FakeRuntime runtime =
        new FakeRuntime(mounter, Files.createDirectories(dir.resolve("mnt")), new TestClock());
    Driver driver =
        Driver.start(
            fixture.config(),
            new Driver.HostParts(
                runtime, mounter, new FakeContainerRecovery(), new DriverMetrics(), runtime));
    driver.close();
    assertThat(driver.system().getWhenTerminated().toCompletableFuture().isDone()).isTrue();
    assertThat(driver.failed()).isFalse();
  }
}

package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.OptionalInt;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real FUSE client (bindfs) stopped with SIGSTOP: the request of a reader waits on its
 * connection, fusectl (mounted in the sandbox) counts it, and an abort ends it.
 */
class FuseConnectionsTest {
  @TempDir Path tempDir;

  private MountSandbox sandbox;
  private Path mountPoint;
  private Process client;
  private FuseConnections fuse;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    sandbox = new MountSandbox(tempDir);
    Path source = sandbox.dir("source");
    Files.writeString(source.resolve("f"), "data");
    mountPoint = sandbox.dir("mnt");
    client = sandbox.startBindfs(source, mountPoint);
    fuse = new FuseConnections(sandbox.dir("fusectl"));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (sandbox != null) {
      sandbox.close();
    }
  }

  @Test
  void the_connection_of_a_fuse_mount_is_the_minor_of_its_device_number() throws Exception {
    OptionalInt connection = FuseConnections.connectionAt(MountInfo.self(), mountPoint);
    long dev = (Long) Files.getAttribute(mountPoint, "unix:dev");
    long minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
    assertThat(connection).hasValue((int) minor);
    assertThat(FuseConnections.mountPointOf(MountInfo.self(), (int) minor)).contains(mountPoint);
    assertThat(FuseConnections.connectionAt(MountInfo.self(), sandbox.root())).isEmpty();
  }

  @Test
  void a_request_to_a_stopped_client_waits_until_its_connection_is_aborted() throws Exception {
    int minor = FuseConnections.connectionAt(MountInfo.self(), mountPoint).orElseThrow();
    assertThat(fuse.waiting(minor)).hasValue(0);
    sandbox.signal(client, "STOP");
    Process reader =
        new ProcessBuilder("cat", mountPoint.resolve("f").toString())
            .redirectErrorStream(true)
            .start();
    try {
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
      while (fuse.waiting(minor).orElse(0) == 0 && System.nanoTime() < deadline) {
        Thread.sleep(20);
      }
      assertThat(fuse.waiting(minor).orElse(0)).as("requests waiting").isPositive();
      assertThat(reader.waitFor(1, TimeUnit.SECONDS)).as("the reader still waits").isFalse();

      fuse.abort(minor);

      assertThat(reader.waitFor(10, TimeUnit.SECONDS)).as("the reader is freed").isTrue();
      assertThat(reader.exitValue()).isNotZero();
      assertThat(new String(reader.getInputStream().readAllBytes()))
          .containsAnyOf("connection abort", "not connected");
      assertThat(fuse.waiting(minor).orElse(0)).isZero();
      assertThatThrownBy(() -> Files.readAttributes(mountPoint, "unix:dev"))
          .isInstanceOf(FileSystemException.class);
    } finally {
      reader.destroyForcibly();
    }
  }

  @Test
  void a_connection_that_does_not_exist_has_no_waiting_count() throws Exception {
    assertThat(fuse.waiting(Integer.MAX_VALUE)).isEmpty();
  }
}

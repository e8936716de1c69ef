package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import csi.v1.NodeGetInfoRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.csi.CsiClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bench's bare plugin as the bench runs it: a child JVM on a Unix socket, real binds of a
 * temporary directory, checked in the mount table; and that it never outlives its {@link
 * BarePlugin.Child}, also when it cannot start.
 */
class BarePluginTest {

  @TempDir Path dir;

  Path source;

  @BeforeEach
  void requireRoot() throws Exception {
    HostRequirements.requireRoot();
    source = Files.createDirectories(dir.resolve("source"));
    Files.writeString(source.resolve("hello"), "from the source");
  }

  @AfterEach
  void unmountLeftovers() throws Exception {
    // Only when a test failed half-way: nothing of this test may stay mounted.
    for (MountEntry e : MountInfo.self()) {
      if (e.mountPoint().startsWith(dir)) {
        new LinuxMounter().unmount(e.mountPoint());
      }
    }
  }

  @Test
  void publishBindsTheSourceAndUnpublishRemovesTheTarget() throws Exception {
    Path target = dir.resolve("pod").resolve("mount");
    Files.createDirectories(target.getParent());
    long pid;
    Path socketDir;
    try (BarePlugin.Child plugin =
            BarePlugin.Child.start(Map.of("v1", source), Duration.ofSeconds(60));
        CsiClient client = CsiClient.connect(plugin.endpoint())) {
      pid = plugin.pid();
      socketDir = Path.of(plugin.endpoint().substring("unix://".length())).getParent();
      assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).contains(true);
      assertThat(Host.cmdline(pid))
          .contains(
              "bare-plugin", "-XX:+UseSerialGC", "-Xmx64m", "--enable-native-access=ALL-UNNAMED");
      assertThat(client.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue())
          .isTrue();

      client.node().nodePublishVolume(publish("v1", target, false));
      MountEntry bound =
          mountAt(target)
              .orElseThrow(
                  () -> new AssertionError(target + " is not mounted: " + MountInfo.self()));
      assertThat(bound.readOnly()).isFalse();
      assertThat(Files.readString(target.resolve("hello"))).isEqualTo("from the source");

      client.node().nodeUnpublishVolume(unpublish("v1", target));
      assertThat(mountAt(target)).isEmpty();
      assertThat(target).doesNotExist();

      // The CSI readonly flag makes the bind read-only.
      client.node().nodePublishVolume(publish("v1", target, true));
      assertThat(mountAt(target).map(MountEntry::readOnly)).contains(true);
      client.node().nodeUnpublishVolume(unpublish("v1", target));
      assertThat(mountAt(target)).isEmpty();

      // A volume without --source: NOT_FOUND, and no directory made for it.
      assertThatThrownBy(() -> client.node().nodePublishVolume(publish("v2", target, false)))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.NOT_FOUND);
                assertThat(e.getStatus().getDescription()).contains("v2");
              });
      assertThat(target).doesNotExist();
      assertThat(mountAt(target)).isEmpty();

      // A failure of the work itself is INTERNAL with its message: here the target's parent
      // does not exist.
      Path orphan = dir.resolve("no-such-pod").resolve("mount");
      assertThatThrownBy(() -> client.node().nodePublishVolume(publish("v1", orphan, false)))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INTERNAL);
                assertThat(e.getStatus().getDescription()).contains("mkdir " + orphan);
              });
      assertThatThrownBy(() -> client.node().nodeGetInfo(NodeGetInfoRequest.getDefaultInstance()))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.UNIMPLEMENTED));
    }
    // Closed: the process is gone and its socket directory removed.
    assertThat(ProcessHandle.of(pid).map(ProcessHandle::isAlive)).isNotEqualTo(Optional.of(true));
    assertThat(socketDir).doesNotExist();
  }

  @Test
  void aPluginThatCannotStartIsReportedWithItsOutputAndLeavesNothing() {
    // Without any --source picocli refuses the command line and the child exits at once.
    Throwable failure =
        Assertions.catchThrowable(() -> BarePlugin.Child.start(Map.of(), Duration.ofSeconds(60)));

    assertThat(failure)
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("exited with code 2 before it was ready")
        .hasMessageContaining("Missing required option: '--source");
    Matcher at = Pattern.compile("at unix://(\\S+) exited").matcher(failure.getMessage());
    assertThat(at.find()).as(failure.getMessage()).isTrue();
    assertThat(Path.of(at.group(1)).getParent()).doesNotExist();
  }

  private static Optional<MountEntry> mountAt(Path target) {
    return MountInfo.topMostAt(MountInfo.self(), target);
  }

  private static NodePublishVolumeRequest publish(String volume, Path target, boolean readOnly) {
    return NodePublishVolumeRequest.newBuilder()
        .setVolumeId(volume)
        .setTargetPath(target.toString())
        .setReadonly(readOnly)
        .setVolumeCapability(
            VolumeCapability.newBuilder()
                .setMount(VolumeCapability.MountVolume.getDefaultInstance())
                .setAccessMode(
                    VolumeCapability.AccessMode.newBuilder()
                        .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER)))
        .build();
  }

  private static NodeUnpublishVolumeRequest unpublish(String volume, Path target) {
    return NodeUnpublishVolumeRequest.newBuilder()
        .setVolumeId(volume)
        .setTargetPath(target.toString())
        .build();
  }
}

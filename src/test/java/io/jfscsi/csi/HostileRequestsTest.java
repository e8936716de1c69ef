package io.jfscsi.csi;

import static io.jfscsi.csi.ControllerConformanceTest.assertCode;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import csi.v1.CreateVolumeRequest;
import csi.v1.DeleteVolumeRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.grpc.CallOptions;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ClientCalls;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Requests an attacker or a careless user sends, over the real socket to a real driver: ids with
 * any characters, NUL and invalid UTF-8 in fields, huge inputs, an unpublish after the pod
 * directory is gone. None may cost more than its own call.
 */
class HostileRequestsTest {

  @TempDir Path dir;

  DriverFixture driver;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    // A short call timeout: a node that stopped serving shows as DEADLINE_EXCEEDED at once.
    driver =
        new DriverFixture(dir)
            .with("call-timeout", "8s")
            .with("publish-answer-deadline", "5s")
            .start();
  }

  @AfterEach
  void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  /** Volume ids a static PV's volumeHandle can hold, none of them a plain name. */
  static final List<String> ODD_IDS =
      List.of(
          "vol ümlaut",
          "ボリューム",
          "two words",
          "$dollar",
          "per%zzcent",
          "a.-b",
          "-lead",
          "trail-",
          ".hidden",
          "emoji-\uD83C\uDF89",
          "rtl-\u202Eabc",
          "UPPER-Case",
          "x".repeat(253),
          "é".repeat(126),
          "semi;colon&amp=x",
          "back\\slash",
          "quote'\"",
          "star*?[x]");

  @Test
  void everyVolumeIdPublishesAndTheNodeKeepsServingOthers() throws Exception {
    Path healthy = driver.target("pod-healthy", "pvc-healthy");
    Files.createDirectories(driver.data.resolve("pvc-healthy"));
    int n = 0;
    for (String id : ODD_IDS) {
      Path target = driver.target("pod-" + n++, "odd");
      Files.createDirectories(driver.data.resolve("odd"));
      driver
          .csi()
          .node()
          .nodePublishVolume(
              driver.publishRequest(id, target).putVolumeContext("subPath", "odd").build());
      Files.writeString(target.resolve("file-" + n), id);
      assertThat(driver.data.resolve("odd").resolve("file-" + n)).hasContent(id);
      driver.unpublish(id, target);
      assertThat(target).doesNotExist();

      driver.publish("pvc-healthy", healthy);
      driver.unpublish("pvc-healthy", healthy);
      assertThat(
              driver
                  .csi()
                  .identity()
                  .probe(ProbeRequest.getDefaultInstance())
                  .getReady()
                  .getValue())
          .as("Probe after id %s", id)
          .isTrue();
    }
    driver.awaitNoClients();
    try (var files = Files.walk(dir.resolve("state"))) {
      assertThat(files.filter(p -> p.toString().endsWith(".properties")).toList())
          .as("records left")
          .isEmpty();
    }
  }

  @Test
  void everyIdCreateVolumeHandsOutIsServedByTheNode() throws Exception {
    int n = 0;
    for (String name :
        List.of("vol ümlaut", "a.-b", "x".repeat(253), "é".repeat(126), "emoji-\uD83C\uDF89 two")) {
      var volume =
          driver
              .csi()
              .controller()
              .createVolume(
                  CreateVolumeRequest.newBuilder()
                      .setName(name)
                      .addVolumeCapabilities(DriverFixture.RWX)
                      .putAllSecrets(driver.secrets())
                      .build())
              .getVolume();
      Path target = driver.target("pod-" + n++, "created");
      driver
          .csi()
          .node()
          .nodePublishVolume(
              NodePublishVolumeRequest.newBuilder()
                  .setVolumeId(volume.getVolumeId())
                  .setTargetPath(target.toString())
                  .setVolumeCapability(DriverFixture.RWX)
                  .putAllSecrets(driver.secrets())
                  .putAllVolumeContext(volume.getVolumeContextMap())
                  .build());
      Files.writeString(target.resolve("file"), name);
      assertThat(driver.data.resolve(volume.getVolumeContextOrThrow("subPath")).resolve("file"))
          .hasContent(name);
      driver.unpublish(volume.getVolumeId(), target);
      driver
          .csi()
          .controller()
          .deleteVolume(
              DeleteVolumeRequest.newBuilder()
                  .setVolumeId(volume.getVolumeId())
                  .putAllSecrets(driver.secrets())
                  .build());
    }
    // One byte more than a directory name holds is refused before anything is made.
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    CreateVolumeRequest.newBuilder()
                        .setName("é".repeat(127))
                        .addVolumeCapabilities(DriverFixture.RWX)
                        .putAllSecrets(driver.secrets())
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "254 bytes");
    driver.awaitNoClients();
  }

  @Test
  void aNulInAnyFieldIsInvalidArgument() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    var node = driver.csi().node();
    List<NodePublishVolumeRequest> requests =
        List.of(
            driver.publishRequest("pvc\0x", a).build(),
            driver.publishRequest("pvc-1", a).setTargetPath(a + "\0x").build(),
            driver
                .publishRequest("pvc-1", a)
                .putSecrets("metaurl", "local://" + driver.data + "\0")
                .build(),
            driver.publishRequest("pvc-1", a).putSecrets("unused\0key", "v").build(),
            driver.publishRequest("pvc-1", a).putSecrets("envs", "{\"A\": \"b\0c\"}").build(),
            driver
                .publishRequest("pvc-1", a)
                .putVolumeContext("juicefs/mount-image", "img\0")
                .build(),
            driver.publishRequest("pvc-1", a).putVolumeContext("subPath", "pvc\0-1").build(),
            driver
                .publishRequest("pvc-1", a)
                .setVolumeCapability(
                    DriverFixture.RWX.toBuilder()
                        .setMount(
                            VolumeCapability.MountVolume.newBuilder()
                                .addMountFlags("cache-size=1\0")))
                .build(),
            driver
                .publishRequest("pvc-1", a)
                .setVolumeCapability(
                    DriverFixture.RWX.toBuilder()
                        .setMount(VolumeCapability.MountVolume.newBuilder().setFsType("juicefs\0")))
                .build());
    for (NodePublishVolumeRequest r : requests) {
      assertCode(() -> node.nodePublishVolume(r), Status.Code.INVALID_ARGUMENT, "NUL");
    }
    assertCode(
        () ->
            node.nodeUnpublishVolume(
                NodeUnpublishVolumeRequest.newBuilder()
                    .setVolumeId("pvc-1")
                    .setTargetPath(a + "\0")
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "NUL");
    assertCode(
        () ->
            node.nodeGetVolumeStats(
                NodeGetVolumeStatsRequest.newBuilder()
                    .setVolumeId("pvc-1")
                    .setVolumePath(a + "\0")
                    .build()),
        Status.Code.INVALID_ARGUMENT,
        "NUL");
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    CreateVolumeRequest.newBuilder()
                        .setName("pvc-1")
                        .addVolumeCapabilities(DriverFixture.RWX)
                        .putAllSecrets(driver.secrets())
                        .putParameters("k", "v\0")
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "NUL");
    assertThat(a).doesNotExist();
    assertThat(driver.mountsUnder()).isEmpty();
  }

  @Test
  void invalidUtf8InAStringFieldIsInvalidArgument() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    byte[] good = driver.publishRequest("pvc-1", a).build().toByteArray();
    // Field 1 (volume_id), length 2, bytes that are not UTF-8; then the rest of a good request.
    byte[] bad = new byte[good.length + 4];
    bad[0] = 0x0a;
    bad[1] = 2;
    bad[2] = (byte) 0xff;
    bad[3] = (byte) 0xfe;
    System.arraycopy(good, 0, bad, 4, good.length);
    // The good request's own volume_id comes later and would win: drop it by sending bad alone.
    byte[] only = new byte[] {0x0a, 2, (byte) 0xc3, (byte) 0x28};
    for (byte[] request : List.of(bad, only)) {
      assertThatThrownBy(() -> raw("csi.v1.Node/NodePublishVolume", request))
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT));
    }
    assertThat(driver.mountsUnder()).isEmpty();
  }

  @Test
  void errorMessagesQuoteHugeInputsCutAndNeverWhole() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    String huge = "A".repeat(3000);
    List<Runnable> calls =
        List.of(
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(driver.publishRequest("a/" + huge, a).build()),
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        driver.publishRequest("pvc-1", a).setTargetPath("/" + huge).build()),
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        driver
                            .publishRequest("pvc-1", a)
                            .putVolumeContext("juicefs/mount-delete-delay", huge)
                            .build()),
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        driver
                            .publishRequest("pvc-1", a)
                            .setVolumeCapability(
                                DriverFixture.RWX.toBuilder()
                                    .setMount(
                                        VolumeCapability.MountVolume.newBuilder()
                                            .addMountFlags(huge)))
                            .build()),
            () ->
                driver
                    .csi()
                    .node()
                    .nodePublishVolume(
                        driver
                            .publishRequest("pvc-1", a)
                            .setVolumeCapability(
                                DriverFixture.RWX.toBuilder()
                                    .setMount(
                                        VolumeCapability.MountVolume.newBuilder().setFsType(huge)))
                            .build()));
    for (Runnable call : calls) {
      assertThatThrownBy(call::run)
          .isInstanceOfSatisfying(
              StatusRuntimeException.class,
              e -> {
                assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
                assertThat(e.getStatus().getDescription())
                    .hasSizeLessThan(1000)
                    .doesNotContain("A".repeat(200));
              });
    }
  }

  @Test
  void unpublishingATargetWhoseParentIsGoneIsOk() throws Exception {
    Path a = driver.target("pod-a", "pvc-1");
    Files.delete(a.getParent());
    driver.unpublish("pvc-1", a);
    driver.unpublish("pvc-1", driver.kubelet.resolve("pods/no-such-pod/volumes/x/mount"));
    // Still refused: a relative or escaping path is a bad request, not an idempotent repeat.
    assertCode(
        () -> driver.unpublish("pvc-1", Path.of("/elsewhere/gone/mount")),
        Status.Code.INVALID_ARGUMENT,
        "outside the kubelet root");
  }

  private byte[] raw(String method, byte[] request) {
    MethodDescriptor<byte[], byte[]> descriptor =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(method)
            .setRequestMarshaller(BYTES)
            .setResponseMarshaller(BYTES)
            .build();
    return ClientCalls.blockingUnaryCall(
        driver.csi().channel(),
        descriptor,
        CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS),
        request);
  }

  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };
}

package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import csi.v1.CapacityRange;
import csi.v1.ControllerExpandVolumeRequest;
import csi.v1.ControllerGetCapabilitiesRequest;
import csi.v1.ControllerModifyVolumeRequest;
import csi.v1.ControllerPublishVolumeRequest;
import csi.v1.ControllerServiceCapability;
import csi.v1.CreateVolumeRequest;
import csi.v1.CreateVolumeResponse;
import csi.v1.DeleteVolumeRequest;
import csi.v1.GetCapacityRequest;
import csi.v1.GetPluginCapabilitiesRequest;
import csi.v1.GetPluginInfoRequest;
import csi.v1.ListSnapshotsRequest;
import csi.v1.ListVolumesRequest;
import csi.v1.PluginCapability;
import csi.v1.ProbeRequest;
import csi.v1.ValidateVolumeCapabilitiesRequest;
import csi.v1.VolumeCapability;
import csi.v1.VolumeContentSource;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Identity and Controller services over the real Unix socket, checked against the CSI specification
 * v1.12.0: success, idempotent repeats, and the error codes each RPC names.
 */
class ControllerConformanceTest {

  @TempDir static Path dir;

  static DriverFixture driver;

  @BeforeAll
  static void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
  }

  @AfterAll
  static void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  static VolumeCapability mount(VolumeCapability.AccessMode.Mode mode) {
    return VolumeCapability.newBuilder()
        .setMount(VolumeCapability.MountVolume.getDefaultInstance())
        .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(mode))
        .build();
  }

  static final VolumeCapability RWX = DriverFixture.RWX;

  CreateVolumeRequest.Builder create(String name) {
    return driver.createRequest(name);
  }

  static void assertCode(ThrowingCallable call, Status.Code code, String... messageParts) {
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).as(e.getStatus().toString()).isEqualTo(code);
              for (String part : messageParts) {
                assertThat(e.getStatus().getDescription()).contains(part);
              }
            });
  }

  @Test
  void pluginInfoNamesTheDriverAndItsVersion() {
    var info = driver.csi().identity().getPluginInfo(GetPluginInfoRequest.getDefaultInstance());
    assertThat(info.getName()).isEqualTo("csi.juicefs.com");
    assertThat(info.getVendorVersion()).isNotBlank().isNotEqualTo("unknown");
  }

  @Test
  void pluginOffersTheControllerServiceAndIsReady() {
    var caps =
        driver
            .csi()
            .identity()
            .getPluginCapabilities(GetPluginCapabilitiesRequest.getDefaultInstance());
    assertThat(caps.getCapabilitiesList())
        .filteredOn(PluginCapability::hasService)
        .extracting(c -> c.getService().getType())
        .containsExactly(PluginCapability.Service.Type.CONTROLLER_SERVICE);
    assertThat(caps.getCapabilitiesList())
        .filteredOn(PluginCapability::hasVolumeExpansion)
        .extracting(c -> c.getVolumeExpansion().getType())
        .as("a quota grows while the volume is mounted")
        .containsExactly(PluginCapability.VolumeExpansion.Type.ONLINE);
    assertThat(
            driver.csi().identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue())
        .isTrue();
  }

  @Test
  void controllerCapabilitiesAreCreateDeleteExpandAndSnapshots() {
    var caps =
        driver
            .csi()
            .controller()
            .controllerGetCapabilities(ControllerGetCapabilitiesRequest.getDefaultInstance());
    assertThat(caps.getCapabilitiesList())
        .extracting(c -> c.getRpc().getType())
        .containsExactly(
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_VOLUME,
            ControllerServiceCapability.RPC.Type.EXPAND_VOLUME,
            ControllerServiceCapability.RPC.Type.CREATE_DELETE_SNAPSHOT);
  }

  @Test
  void createVolumeMakesTheSubDirectoryAndIsIdempotent() {
    CreateVolumeResponse first = driver.csi().controller().createVolume(create("pvc-a").build());
    assertThat(first.getVolume().getVolumeId()).isEqualTo("pvc-a");
    assertThat(first.getVolume().getCapacityBytes()).isEqualTo(1 << 30);
    assertThat(first.getVolume().getVolumeContextMap()).containsEntry("subPath", "pvc-a");
    assertThat(driver.data.resolve("pvc-a")).isDirectory();

    CreateVolumeResponse again = driver.csi().controller().createVolume(create("pvc-a").build());
    assertThat(again).isEqualTo(first);
  }

  @Test
  void createVolumeWithTheSameNameButOtherParametersIsAlreadyExists() {
    driver.csi().controller().createVolume(create("pvc-b").build());
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-b").putParameters("juicefs/mount-delete-delay", "1m").build()),
        Status.Code.ALREADY_EXISTS,
        "pvc-b");
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-b")
                        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(2L << 30))
                        .build()),
        Status.Code.ALREADY_EXISTS);
  }

  @Test
  void createVolumeRefusesBadNames() {
    assertCode(
        () -> driver.csi().controller().createVolume(create("").build()),
        Status.Code.INVALID_ARGUMENT,
        "name");
    assertCode(
        () -> driver.csi().controller().createVolume(create("a/b").build()),
        Status.Code.INVALID_ARGUMENT,
        "'/'");
    assertCode(
        () -> driver.csi().controller().createVolume(create("..").build()),
        Status.Code.INVALID_ARGUMENT,
        "..");
    assertCode(
        () -> driver.csi().controller().createVolume(create("a\0b").build()),
        Status.Code.INVALID_ARGUMENT,
        "NUL");
    assertCode(
        () -> driver.csi().controller().createVolume(create("x".repeat(300)).build()),
        Status.Code.INVALID_ARGUMENT,
        "300");
    assertThat(driver.data.toFile().list()).doesNotContain("a", "b", "..");
  }

  @Test
  void createVolumeRefusesBlockAndMissingCapabilities() {
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(create("pvc-c").clearVolumeCapabilities().build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_capabilities");
    VolumeCapability block =
        VolumeCapability.newBuilder()
            .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
            .setAccessMode(RWX.getAccessMode())
            .build();
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-c").clearVolumeCapabilities().addVolumeCapabilities(block).build()),
        Status.Code.INVALID_ARGUMENT,
        "block");
    assertThat(driver.data.resolve("pvc-c")).doesNotExist();
  }

  /**
   * The StorageClass's mountOptions arrive as mount flags: what a publish refuses, so does this.
   */
  @Test
  void createVolumeRefusesMountFlagsThatEveryPublishWouldRefuse() {
    VolumeCapability writeback =
        RWX.toBuilder().setMount(RWX.getMount().toBuilder().addMountFlags("writeback")).build();
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-w")
                        .clearVolumeCapabilities()
                        .addVolumeCapabilities(writeback)
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "mount option 'writeback'");
    assertThat(driver.data.resolve("pvc-w")).doesNotExist();
  }

  @Test
  void createVolumeRefusesAnImpossibleCapacityRangeAndAVolumeAsContentSource() {
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-d")
                        .setCapacityRange(
                            CapacityRange.newBuilder().setRequiredBytes(10).setLimitBytes(5))
                        .build()),
        Status.Code.OUT_OF_RANGE);
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    create("pvc-d")
                        .setVolumeContentSource(
                            VolumeContentSource.newBuilder()
                                .setVolume(
                                    VolumeContentSource.VolumeSource.newBuilder()
                                        .setVolumeId("pvc-a")))
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_content_source");
    assertThat(driver.data.resolve("pvc-d")).doesNotExist();
  }

  @Test
  void createVolumeNamesAMissingSecretKeyButNeverAValue() {
    Map<String, String> secrets = new HashMap<>(driver.secrets());
    secrets.remove("metaurl");
    secrets.put("secret-key", "TOP-SECRET-VALUE");
    assertThatThrownBy(
            () ->
                driver
                    .csi()
                    .controller()
                    .createVolume(create("pvc-e").clearSecrets().putAllSecrets(secrets).build()))
        .isInstanceOfSatisfying(
            StatusRuntimeException.class,
            e -> {
              assertThat(e.getStatus().getCode()).isEqualTo(Status.Code.INVALID_ARGUMENT);
              assertThat(e.getStatus().getDescription())
                  .contains("metaurl")
                  .doesNotContain("TOP-SECRET-VALUE");
            });
  }

  @Test
  void deleteVolumeRemovesOnlyItsDirectoryAndIsIdempotent() throws Exception {
    driver.csi().controller().createVolume(create("pvc-f").build());
    Files.writeString(driver.data.resolve("pvc-f").resolve("file"), "x");
    Files.createDirectories(driver.data.resolve("pvc-f-sibling"));
    var delete =
        DeleteVolumeRequest.newBuilder()
            .setVolumeId("pvc-f")
            .putAllSecrets(driver.secrets())
            .build();
    driver.csi().controller().deleteVolume(delete);
    assertThat(driver.data.resolve("pvc-f")).doesNotExist();
    assertThat(driver.data.resolve("pvc-f-sibling")).isDirectory();
    assertThat(driver.data).isDirectory();
    driver.csi().controller().deleteVolume(delete);
    driver
        .csi()
        .controller()
        .deleteVolume(DeleteVolumeRequest.newBuilder().setVolumeId("never-created").build());
  }

  @Test
  void deleteVolumeNeverRemovesDataItDidNotProvision() throws Exception {
    Files.createDirectories(driver.data.resolve("static-data"));
    Files.writeString(driver.data.resolve("static-data").resolve("precious"), "x");
    driver
        .csi()
        .controller()
        .deleteVolume(
            DeleteVolumeRequest.newBuilder()
                .setVolumeId("static-data")
                .putAllSecrets(driver.secrets())
                .build());
    assertThat(driver.data.resolve("static-data").resolve("precious")).exists();

    // A dynamic PV whose record was lost (controller moved) is still cleaned up.
    String lost = "pvc-0a1b2c3d-0000-4000-8000-00000000abcd";
    Files.createDirectories(driver.data.resolve(lost));
    driver
        .csi()
        .controller()
        .deleteVolume(
            DeleteVolumeRequest.newBuilder()
                .setVolumeId(lost)
                .putAllSecrets(driver.secrets())
                .build());
    assertThat(driver.data.resolve(lost)).doesNotExist();
  }

  @Test
  void deleteVolumeRefusesIdsThatCouldEscapeTheVolume() {
    for (String id : new String[] {"", "..", "../data", "a/../..", "/"}) {
      assertCode(
          () ->
              driver
                  .csi()
                  .controller()
                  .deleteVolume(
                      DeleteVolumeRequest.newBuilder()
                          .setVolumeId(id)
                          .putAllSecrets(driver.secrets())
                          .build()),
          Status.Code.INVALID_ARGUMENT);
    }
    assertThat(driver.data).isDirectory();
  }

  @Test
  void validateVolumeCapabilitiesConfirmsMountAndRefusesBlock() {
    driver.csi().controller().createVolume(create("pvc-g").build());
    var ok =
        driver
            .csi()
            .controller()
            .validateVolumeCapabilities(
                ValidateVolumeCapabilitiesRequest.newBuilder()
                    .setVolumeId("pvc-g")
                    .addVolumeCapabilities(RWX)
                    .build());
    assertThat(ok.getConfirmed().getVolumeCapabilitiesList()).containsExactly(RWX);

    VolumeCapability block =
        VolumeCapability.newBuilder()
            .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
            .setAccessMode(RWX.getAccessMode())
            .build();
    var refused =
        driver
            .csi()
            .controller()
            .validateVolumeCapabilities(
                ValidateVolumeCapabilitiesRequest.newBuilder()
                    .setVolumeId("pvc-g")
                    .addVolumeCapabilities(block)
                    .build());
    assertThat(refused.hasConfirmed()).isFalse();
    assertThat(refused.getMessage()).contains("block");

    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder()
                        .setVolumeId("no-such-volume")
                        .addVolumeCapabilities(RWX)
                        .build()),
        Status.Code.NOT_FOUND);
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .validateVolumeCapabilities(
                    ValidateVolumeCapabilitiesRequest.newBuilder().setVolumeId("pvc-g").build()),
        Status.Code.INVALID_ARGUMENT);
  }

  @Test
  void everyOtherControllerRpcIsUnimplemented() {
    var c = driver.csi().controller();
    assertCode(
        () -> c.listVolumes(ListVolumesRequest.getDefaultInstance()), Status.Code.UNIMPLEMENTED);
    assertCode(
        () -> c.getCapacity(GetCapacityRequest.getDefaultInstance()), Status.Code.UNIMPLEMENTED);
    assertCode(
        () -> c.controllerPublishVolume(ControllerPublishVolumeRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED);
    assertCode(
        () -> c.listSnapshots(ListSnapshotsRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED);
    assertCode(
        () -> c.controllerModifyVolume(ControllerModifyVolumeRequest.getDefaultInstance()),
        Status.Code.UNIMPLEMENTED);
  }

  @Test
  void provisioningLeavesNoClientOrMountBehind() throws Exception {
    driver.csi().controller().createVolume(create("pvc-h").build());
    driver
        .csi()
        .controller()
        .deleteVolume(
            DeleteVolumeRequest.newBuilder()
                .setVolumeId("pvc-h")
                .putAllSecrets(driver.secrets())
                .build());
    assertThat(driver.clientPids()).isEmpty();
    assertThat(driver.mountsUnder()).isEmpty();
  }

  ControllerExpandVolumeRequest.Builder expand(String id, long bytes) {
    return ControllerExpandVolumeRequest.newBuilder()
        .setVolumeId(id)
        .putAllSecrets(driver.secrets())
        .setVolumeCapability(RWX)
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(bytes));
  }

  @Test
  void expandVolumeRaisesTheCapacityNeedsNoNodeAndIsIdempotent() {
    CreateVolumeResponse created = driver.csi().controller().createVolume(create("pvc-x").build());
    assertThat(created.getVolume().getVolumeContextMap())
        .containsEntry("capacity", Long.toString(1 << 30))
        .as("the embedded default cannot enforce a quota, so none is marked as set")
        .doesNotContainKey("juicefs/controller-quota-set");

    var c = driver.csi().controller();
    var bigger = c.controllerExpandVolume(expand("pvc-x", 2L << 30).build());
    assertThat(bigger.getCapacityBytes()).isEqualTo(2L << 30);
    assertThat(bigger.getNodeExpansionRequired()).isFalse();
    assertThat(c.controllerExpandVolume(expand("pvc-x", 2L << 30).build())).isEqualTo(bigger);
    // The spec: a volume as large or larger already answers OK with the size it has.
    assertThat(c.controllerExpandVolume(expand("pvc-x", 1L << 30).build()).getCapacityBytes())
        .isEqualTo(2L << 30);
    // A size it has needs no secret; a larger one does.
    assertThat(
            c.controllerExpandVolume(expand("pvc-x", 2L << 30).clearSecrets().build())
                .getCapacityBytes())
        .isEqualTo(2L << 30);
    assertCode(
        () -> c.controllerExpandVolume(expand("pvc-x", 3L << 30).clearSecrets().build()),
        Status.Code.INVALID_ARGUMENT,
        "controller-expand-secret");
    // The repeat of the CreateVolume that made it still answers what it answered.
    assertThat(c.createVolume(create("pvc-x").build())).isEqualTo(created);
  }

  @Test
  void expandVolumeOfAnUnknownVolumeIsNotFound() {
    var c = driver.csi().controller();
    assertCode(
        () -> c.controllerExpandVolume(expand("pvc-unknown", 2L << 30).build()),
        Status.Code.NOT_FOUND,
        "pvc-unknown");
    assertCode(
        () -> c.controllerExpandVolume(expand("pvc-unknown", 2L << 30).clearSecrets().build()),
        Status.Code.NOT_FOUND);
    assertThat(driver.data.resolve("pvc-unknown")).doesNotExist();
  }

  @Test
  void expandVolumeRefusesBadRequestsWithTheSpecsCodes() {
    driver.csi().controller().createVolume(create("pvc-y").build());
    var c = driver.csi().controller();
    assertCode(
        () -> c.controllerExpandVolume(expand("", 2L << 30).build()),
        Status.Code.INVALID_ARGUMENT,
        "volume_id");
    assertCode(
        () -> c.controllerExpandVolume(expand("pvc-y", 0).clearCapacityRange().build()),
        Status.Code.INVALID_ARGUMENT,
        "capacity_range");
    assertCode(
        () -> c.controllerExpandVolume(expand("pvc-y", 0).build()),
        Status.Code.INVALID_ARGUMENT,
        "capacity_range");
    assertCode(
        () ->
            c.controllerExpandVolume(
                expand("pvc-y", 0)
                    .setCapacityRange(
                        CapacityRange.newBuilder()
                            .setRequiredBytes(4L << 30)
                            .setLimitBytes(2L << 30))
                    .build()),
        Status.Code.OUT_OF_RANGE);
    assertCode(
        () ->
            c.controllerExpandVolume(
                expand("pvc-y", 2L << 30)
                    .setVolumeCapability(
                        VolumeCapability.newBuilder()
                            .setBlock(VolumeCapability.BlockVolume.getDefaultInstance())
                            .setAccessMode(RWX.getAccessMode()))
                    .build()),
        Status.Code.INVALID_ARGUMENT);
  }
}

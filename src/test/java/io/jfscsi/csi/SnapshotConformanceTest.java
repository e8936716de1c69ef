package io.jfscsi.csi;

import static io.jfscsi.csi.ControllerConformanceTest.assertCode;
import static org.assertj.core.api.Assertions.assertThat;

import csi.v1.CreateSnapshotRequest;
import csi.v1.CreateSnapshotResponse;
import csi.v1.CreateVolumeRequest;
import csi.v1.CreateVolumeResponse;
import csi.v1.DeleteSnapshotRequest;
import csi.v1.VolumeContentSource;
import io.grpc.Status;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * CreateSnapshot, DeleteSnapshot and CreateVolume from a snapshot over the real Unix socket, on the
 * embedded default (a local directory behind a FUSE passthrough), checked against the CSI
 * specification v1.12.0 and against the Go driver's handle and paths.
 */
class SnapshotConformanceTest {

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

  static CreateVolumeRequest.Builder volume(String name) {
    return driver.createRequest(name);
  }

  static CreateSnapshotRequest.Builder snapshot(String name, String source) {
    return CreateSnapshotRequest.newBuilder()
        .setName(name)
        .setSourceVolumeId(source)
        .putAllSecrets(driver.secrets());
  }

  static VolumeContentSource fromSnapshot(String id) {
    return VolumeContentSource.newBuilder()
        .setSnapshot(VolumeContentSource.SnapshotSource.newBuilder().setSnapshotId(id))
        .build();
  }

  static CreateSnapshotResponse createSnapshot(CreateSnapshotRequest.Builder request) {
    return driver.csi().controller().createSnapshot(request.build());
  }

  @Test
  void aRestoreHoldsWhatTheVolumeHeldAtTheSnapshotAndNothingWrittenAfter() throws Exception {
    driver.csi().controller().createVolume(volume("pvc-src").build());
    Path source = driver.data.resolve("pvc-src");
    Files.writeString(source.resolve("before.txt"), "written before the snapshot");
    Files.createDirectories(source.resolve("nested/deeper"));
    Files.write(source.resolve("nested/deeper/blob"), new byte[4096]);
    Files.setPosixFilePermissions(
        source.resolve("nested/deeper/blob"), PosixFilePermissions.fromString("rw-r-----"));
    Files.setAttribute(source.resolve("nested/deeper/blob"), "unix:uid", 1234);
    Files.setLastModifiedTime(
        source.resolve("nested/deeper/blob"), FileTime.from(Instant.parse("2020-01-02T03:04:05Z")));
    Files.createSymbolicLink(source.resolve("to-etc"), Path.of("/etc"));

    Instant asked = Instant.now().minusSeconds(1);
    CreateSnapshotResponse made = createSnapshot(snapshot("snapshot-1", "pvc-src"));
    assertThat(made.getSnapshot().getSnapshotId())
        .as("the Go driver's handle: <name>|<source volume id>")
        .isEqualTo("snapshot-1|pvc-src");
    assertThat(made.getSnapshot().getSourceVolumeId()).isEqualTo("pvc-src");
    assertThat(made.getSnapshot().getReadyToUse()).isTrue();
    assertThat(made.getSnapshot().getSizeBytes())
        .isEqualTo("written before the snapshot".length() + 4096);
    assertThat(Instant.ofEpochSecond(made.getSnapshot().getCreationTime().getSeconds()))
        .isAfterOrEqualTo(asked.truncatedTo(java.time.temporal.ChronoUnit.SECONDS));
    assertThat(driver.data.resolve(".snapshots/pvc-src/snapshot-1/before.txt"))
        .as("the Go driver's path")
        .hasContent("written before the snapshot");

    Files.writeString(source.resolve("after.txt"), "written after the snapshot");
    Files.writeString(source.resolve("before.txt"), "changed after the snapshot");

    CreateVolumeResponse restored =
        driver
            .csi()
            .controller()
            .createVolume(
                volume("pvc-restored")
                    .setVolumeContentSource(fromSnapshot(made.getSnapshot().getSnapshotId()))
                    .build());
    assertThat(restored.getVolume().getContentSource().getSnapshot().getSnapshotId())
        .isEqualTo("snapshot-1|pvc-src");
    Path copy = driver.data.resolve("pvc-restored");
    assertThat(copy.resolve("before.txt")).hasContent("written before the snapshot");
    assertThat(copy.resolve("after.txt")).doesNotExist();
    Path blob = copy.resolve("nested/deeper/blob");
    assertThat(Files.size(blob)).isEqualTo(4096);
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(blob)))
        .isEqualTo("rw-r-----");
    assertThat(Files.getAttribute(blob, "unix:uid")).isEqualTo(1234);
    assertThat(Files.getLastModifiedTime(blob).toInstant())
        .isEqualTo(Instant.parse("2020-01-02T03:04:05Z"));
    assertThat(Files.isSymbolicLink(copy.resolve("to-etc")))
        .as("a link is copied as a link, never followed")
        .isTrue();
    assertThat(Files.readSymbolicLink(copy.resolve("to-etc"))).isEqualTo(Path.of("/etc"));
    try (var names = Files.list(copy)) {
      assertThat(names.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("before.txt", "nested", "to-etc");
    }
    try (var names = Files.list(driver.data)) {
      assertThat(names.map(p -> p.getFileName().toString()))
          .as("no partial copy left beside the volumes")
          .noneMatch(n -> n.endsWith(".partial"));
    }
  }

  @Test
  void createSnapshotIsIdempotentByNameAndRefusesTheNameForAnotherVolume() {
    driver.csi().controller().createVolume(volume("pvc-one").build());
    driver.csi().controller().createVolume(volume("pvc-two").build());
    CreateSnapshotResponse first = createSnapshot(snapshot("snapshot-same", "pvc-one"));
    CreateSnapshotResponse again = createSnapshot(snapshot("snapshot-same", "pvc-one"));
    assertThat(again).as("the same snapshot, its creation time included").isEqualTo(first);
    assertCode(
        () -> createSnapshot(snapshot("snapshot-same", "pvc-two")),
        Status.Code.ALREADY_EXISTS,
        "pvc-one");
  }

  @Test
  void createSnapshotOfAnUnknownVolumeIsNotFoundAndMissingFieldsAreInvalid() {
    assertCode(
        () -> createSnapshot(snapshot("snapshot-x", "pvc-missing")),
        Status.Code.NOT_FOUND,
        "pvc-missing");
    assertCode(
        () -> createSnapshot(snapshot("snapshot-x", "pvc-missing").clearSecrets()),
        Status.Code.NOT_FOUND,
        "snapshotter-secret-name");
    assertCode(() -> createSnapshot(snapshot("", "pvc-one")), Status.Code.INVALID_ARGUMENT, "name");
    assertCode(
        () -> createSnapshot(snapshot("snapshot-x", "")),
        Status.Code.INVALID_ARGUMENT,
        "source_volume_id");
    assertCode(
        () -> createSnapshot(snapshot("a|b", "pvc-one")), Status.Code.INVALID_ARGUMENT, "'|'");
    assertCode(
        () -> createSnapshot(snapshot("../escape", "pvc-one")), Status.Code.INVALID_ARGUMENT);
    assertThat(driver.data.resolve(".snapshots/pvc-missing")).doesNotExist();
  }

  @Test
  void deleteSnapshotRemovesItsDirectoryAndIsIdempotent() {
    driver.csi().controller().createVolume(volume("pvc-del").build());
    String id = createSnapshot(snapshot("snapshot-del", "pvc-del")).getSnapshot().getSnapshotId();
    assertThat(driver.data.resolve(".snapshots/pvc-del/snapshot-del")).isDirectory();
    var delete =
        DeleteSnapshotRequest.newBuilder().setSnapshotId(id).putAllSecrets(driver.secrets());
    driver.csi().controller().deleteSnapshot(delete.build());
    assertThat(driver.data.resolve(".snapshots/pvc-del/snapshot-del")).doesNotExist();
    driver.csi().controller().deleteSnapshot(delete.build());
    driver
        .csi()
        .controller()
        .deleteSnapshot(
            DeleteSnapshotRequest.newBuilder().setSnapshotId("not-one-of-ours").build());
    driver
        .csi()
        .controller()
        .deleteSnapshot(DeleteSnapshotRequest.newBuilder().setSnapshotId("gone|pvc-del").build());
    assertThat(driver.data.resolve("pvc-del")).as("the volume stays").isDirectory();
    assertCode(
        () -> driver.csi().controller().deleteSnapshot(DeleteSnapshotRequest.getDefaultInstance()),
        Status.Code.INVALID_ARGUMENT,
        "snapshot_id");
  }

  @Test
  void aSnapshotMadeByTheGoDriverRestores() throws Exception {
    // The Go driver's Job clones into .snapshots/<source>/<name> and answers <name>|<source>.
    Path made = Files.createDirectories(driver.data.resolve(".snapshots/pvc-go/snapshot-go"));
    Files.writeString(made.resolve("data.txt"), "cloned by the Go driver");
    driver
        .csi()
        .controller()
        .createVolume(
            volume("pvc-from-go")
                .setVolumeContentSource(fromSnapshot("snapshot-go|pvc-go"))
                .build());
    assertThat(driver.data.resolve("pvc-from-go/data.txt")).hasContent("cloned by the Go driver");
  }

  @Test
  void restoringAnUnknownSnapshotIsNotFoundAndMakesNoVolume() {
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    volume("pvc-none")
                        .setVolumeContentSource(fromSnapshot("nothing|pvc-src"))
                        .build()),
        Status.Code.NOT_FOUND,
        "nothing|pvc-src");
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    volume("pvc-none").setVolumeContentSource(fromSnapshot("no-bar")).build()),
        Status.Code.NOT_FOUND,
        "no-bar");
    assertThat(driver.data.resolve("pvc-none")).doesNotExist();
  }

  @Test
  void aRepeatedRestoreIsIdempotentAndAnotherSourceForTheSameNameIsRefused() throws Exception {
    driver.csi().controller().createVolume(volume("pvc-r").build());
    Files.writeString(driver.data.resolve("pvc-r/f"), "one");
    String id = createSnapshot(snapshot("snapshot-r", "pvc-r")).getSnapshot().getSnapshotId();
    var restore = volume("pvc-r2").setVolumeContentSource(fromSnapshot(id)).build();
    driver.csi().controller().createVolume(restore);
    Files.writeString(driver.data.resolve("pvc-r2/written-by-a-pod"), "kept");
    driver.csi().controller().createVolume(restore);
    assertThat(driver.data.resolve("pvc-r2/written-by-a-pod"))
        .as("a repeat copies nothing over the volume")
        .hasContent("kept");
    assertCode(
        () -> driver.csi().controller().createVolume(volume("pvc-r2").build()),
        Status.Code.ALREADY_EXISTS);
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    volume("pvc-r3")
                        .setVolumeContentSource(
                            VolumeContentSource.newBuilder()
                                .setVolume(
                                    VolumeContentSource.VolumeSource.newBuilder()
                                        .setVolumeId("pvc-r")))
                        .build()),
        Status.Code.INVALID_ARGUMENT,
        "VolumeSnapshot");
  }

  @Test
  void snapshotSecretsNeverReachAnAnswer() {
    Map<String, String> secrets =
        Map.of("name", "testfs", "metaurl", "local://" + driver.data, "secret-key", "TOP-SECRET");
    assertCode(
        () ->
            createSnapshot(
                snapshot("snapshot-s", "pvc-nowhere").clearSecrets().putAllSecrets(secrets)),
        Status.Code.NOT_FOUND);
    try {
      createSnapshot(snapshot("snapshot-s", "pvc-nowhere").clearSecrets().putAllSecrets(secrets));
    } catch (io.grpc.StatusRuntimeException e) {
      assertThat(e.getStatus().getDescription()).doesNotContain("TOP-SECRET");
    }
  }

  @Test
  void aVolumeDirectorySwappedForALinkOutOfTheVolumeIsNeverCopied() throws Exception {
    Path outside = Files.createDirectories(dir.resolve("outside"));
    Files.writeString(outside.resolve("host-secret"), "not part of any volume");
    Files.createSymbolicLink(driver.data.resolve("pvc-planted"), outside);
    assertCode(
        () -> createSnapshot(snapshot("snapshot-planted", "pvc-planted")), Status.Code.NOT_FOUND);
    assertThat(driver.data.resolve(".snapshots/pvc-planted/snapshot-planted")).doesNotExist();
    Files.createDirectories(driver.data.resolve(".snapshots/pvc-x"));
    Files.createSymbolicLink(driver.data.resolve(".snapshots/pvc-x/snapshot-x"), outside);
    assertCode(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    volume("pvc-from-link")
                        .setVolumeContentSource(fromSnapshot("snapshot-x|pvc-x"))
                        .build()),
        Status.Code.NOT_FOUND);
    assertThat(driver.data.resolve("pvc-from-link")).doesNotExist();
  }
}

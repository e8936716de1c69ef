package io.jfscsi.csi;

import static io.jfscsi.csi.ControllerConformanceTest.RWX;
import static org.assertj.core.api.Assertions.assertThat;

import csi.v1.CreateVolumeRequest;
import csi.v1.DeleteVolumeRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.ProbeRequest;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.Trials;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver tried as an attacker would, over the real socket with real mounts and FUSE: a volume's
 * writer planting symlinks, a racer under the kubelet root, a foreign mount at a target, a metaurl
 * naming the host's own directories. After every case: the answer is the client's fault (never
 * INTERNAL), nothing was made or mounted outside, and a healthy volume on the same driver still
 * publishes and unpublishes.
 */
class HostilePathsTest {

  @TempDir Path dir;

  DriverFixture driver;
  Path host;
  final AtomicInteger pods = new AtomicInteger();

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver = new DriverFixture(dir).start();
    host = Files.createDirectories(dir.resolve("host"));
    Files.writeString(host.resolve("secret"), "host file");
    Files.createDirectories(driver.data.resolve("healthy"));
  }

  @AfterEach
  void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  /** A symlink in the volume, anywhere on the way of a subPath: refused, nothing made outside. */
  @Test
  void subPathsThroughSymlinksPlantedInTheVolume() {
    List<String> escapes =
        List.of(
            host.toString(),
            "/etc",
            "../../..",
            "/",
            "/proc/self/root",
            host.resolve("secret").toString(),
            "../healthy");
    Trials.run(
        "subPath through a planted symlink",
        12,
        random -> {
          try {
            int n = pods.incrementAndGet();
            List<String> names = new ArrayList<>();
            int depth = 1 + random.nextInt(3);
            for (int i = 0; i < depth; i++) {
              names.add("s" + n + "-" + i);
            }
            int linkAt = random.nextInt(depth);
            Path at = driver.data;
            for (int i = 0; i < linkAt; i++) {
              at = Files.createDirectories(at.resolve(names.get(i)));
            }
            Files.createSymbolicLink(
                at.resolve(names.get(linkAt)), Path.of(Trials.pick(random, escapes)));
            // Deeper names than the link: the old driver created them wherever the link pointed.
            String subPath = String.join("/", names) + (random.nextBoolean() ? "/made-" + n : "");
            Path target = driver.target("pod-" + n, "pvc-sym");

            expectRefused(
                () ->
                    driver
                        .csi()
                        .node()
                        .nodePublishVolume(
                            request("pvc-sym", target, driver.secrets(), subPath).build()));

            assertThat(Files.exists(target)).isFalse();
            assertNothingOutside(n);
            healthyVolumeStillWorks(random);
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
  }

  /** The pod's volume directory swapped for a symlink within the kubelet root. */
  @Test
  void aTargetWhoseParentIsASymlinkInsideTheKubeletRootIsRefused() throws Exception {
    Path elsewhere = Files.createDirectories(driver.kubelet.resolve("elsewhere"));
    Path volumeDir = driver.target("pod-l", "pvc-l").getParent();
    Files.delete(volumeDir);
    Files.createSymbolicLink(volumeDir, elsewhere);

    expectRefused(
        () ->
            driver
                .csi()
                .node()
                .nodePublishVolume(
                    request("healthy", volumeDir.resolve("mount"), driver.secrets(), "healthy")
                        .build()));

    assertThat(elsewhere.resolve("mount")).doesNotExist();
    assertThat(bindsOutsideClients()).isEmpty();
    healthyVolumeStillWorks(new Random(1));
  }

  /** A bind the driver never made, at a target of one of its volumes: unpublish leaves it. */
  @Test
  void anUnpublishLeavesAForeignBindAlone() throws Exception {
    Path target = driver.target("pod-f", "pvc-f");
    Files.createDirectory(target);
    new ProcessBuilder("mount", "--bind", host.toString(), target.toString())
        .inheritIO()
        .start()
        .waitFor();
    assertThat(driver.mountsUnder()).contains(target.toString());

    driver.unpublish("pvc-f", target);
    driver.unpublish("healthy", target);

    assertThat(bindsOutsideClients()).containsExactly(target.toString());
    assertThat(target.resolve("secret")).hasContent("host file");
    healthyVolumeStillWorks(new Random(2));
  }

  /**
   * A metaurl naming the host's own directories, the kubelet root, or a symlink out of an allowed
   * root: neither served nor provisioned into.
   */
  @Test
  void localDirectoriesOutsideTheAllowedRootsAreRefused() throws Exception {
    Path link = driver.data.getParent().resolve("to-etc");
    Files.createSymbolicLink(link, Path.of("/etc"));
    List<String> metaurls =
        List.of(
            "local:///",
            "local:///etc",
            "local:///proc",
            "/",
            "local://" + driver.kubelet,
            "local://" + link,
            "local://" + driver.data + "/../..",
            "local:///var/lib/kubelet");
    Trials.run(
        "a metaurl outside the allowed roots",
        metaurls.size(),
        random -> {
          String metaurl = metaurls.get(pods.getAndIncrement() % metaurls.size());
          Map<String, String> secrets = Map.of("name", "hostile", "metaurl", metaurl);
          try {
            int n = pods.get();
            Path target = driver.target("pod-r" + n, "pvc-r");
            expectRefused(
                () ->
                    driver
                        .csi()
                        .node()
                        .nodePublishVolume(request("pvc-r", target, secrets, "").build()));
            String name = "pvc-00000000-0000-0000-0000-00000000000" + (n % 10);
            expectRefused(
                () ->
                    driver
                        .csi()
                        .controller()
                        .createVolume(
                            CreateVolumeRequest.newBuilder()
                                .setName(name)
                                .addVolumeCapabilities(RWX)
                                .putAllSecrets(secrets)
                                .build()));
            assertThat(Path.of("/", name)).doesNotExist();
            assertThat(Path.of("/etc", name)).doesNotExist();
            assertThat(bindsOutsideClients()).isEmpty();
            healthyVolumeStillWorks(random);
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
  }

  /**
   * The controller's directories: a volume name planted as a symlink to the host is refused (the
   * old driver made and served the host directory); DeleteVolume removes the link itself, never
   * what it points at.
   */
  @Test
  void theControllerNeverFollowsASymlinkPlantedInTheFileSystem() throws Exception {
    String planted = "pvc-11111111-2222-3333-4444-555555555555";
    Files.createSymbolicLink(driver.data.resolve(planted), host);
    expectRefused(
        () ->
            driver
                .csi()
                .controller()
                .createVolume(
                    CreateVolumeRequest.newBuilder()
                        .setName(planted)
                        .addVolumeCapabilities(RWX)
                        .putAllSecrets(driver.secrets())
                        .build()));

    driver
        .csi()
        .controller()
        .deleteVolume(
            DeleteVolumeRequest.newBuilder()
                .setVolumeId(planted)
                .putAllSecrets(driver.secrets())
                .build());

    assertThat(driver.data.resolve(planted)).doesNotExist();
    assertThat(host.resolve("secret")).hasContent("host file");
    assertThat(bindsOutsideClients()).isEmpty();
    healthyVolumeStillWorks(new Random(3));
  }

  private NodePublishVolumeRequest.Builder request(
      String volumeId, Path target, Map<String, String> secrets, String subPath) {
    NodePublishVolumeRequest.Builder b =
        NodePublishVolumeRequest.newBuilder()
            .setVolumeId(volumeId)
            .setTargetPath(target.toString())
            .setVolumeCapability(RWX)
            .putAllSecrets(secrets);
    if (!subPath.isEmpty()) {
      b.putVolumeContext("subPath", subPath);
    }
    return b;
  }

  /** The caller's fault, said so: INVALID_ARGUMENT, never INTERNAL or a hang. */
  private static void expectRefused(Runnable call) {
    try {
      call.run();
    } catch (StatusRuntimeException e) {
      assertThat(e.getStatus().getCode())
          .as(e.getStatus().toString())
          .isEqualTo(Status.Code.INVALID_ARGUMENT);
      return;
    }
    throw new AssertionError("accepted");
  }

  private void assertNothingOutside(int n) throws Exception {
    try (var left = Files.list(host)) {
      assertThat(left.map(p -> p.getFileName().toString())).containsExactly("secret");
    }
    assertThat(Path.of("/etc/made-" + n)).doesNotExist();
    assertThat(Path.of("/made-" + n)).doesNotExist();
    assertThat(bindsOutsideClients()).isEmpty();
  }

  /** Mounts under the test's directory other than clients' own (which exit after a delay). */
  private List<String> bindsOutsideClients() throws Exception {
    return driver.mountsUnder().stream()
        .filter(m -> !m.startsWith(dir.resolve("mnt").toString()))
        .toList();
  }

  /** Probe is ready and a healthy volume publishes, serves and unpublishes on the same driver. */
  private void healthyVolumeStillWorks(Random random) throws Exception {
    assertThat(
            driver.csi().identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue())
        .isTrue();
    Path target =
        driver.target("healthy-" + pods.incrementAndGet() + "-" + random.nextInt(1000), "healthy");
    driver
        .csi()
        .node()
        .nodePublishVolume(request("healthy", target, driver.secrets(), "healthy").build());
    Files.writeString(target.resolve("probe"), "ok");
    assertThat(driver.data.resolve("healthy/probe")).hasContent("ok");
    driver.unpublish("healthy", target);
    assertThat(Files.exists(target)).isFalse();
  }
}

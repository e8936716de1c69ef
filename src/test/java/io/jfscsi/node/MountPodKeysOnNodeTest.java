package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.jfscsi.testing.RealNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The volume's Mount Pod keys and encryption key under a real kubelet: a Mount Pod with extra
 * labels and annotations, a memory emptyDir cache, a host path (the stand-in's store, which the
 * default hostPath cache no longer brings once the cache is on the emptyDir) and an encrypted RSA
 * key with its passphrase really runs, formats with the key file kubelet wrote from the client's
 * Secret, and the app pod reads and writes through it.
 */
class MountPodKeysOnNodeTest {
  /** An RSA key as 'openssl genrsa -aes256' writes it; the stand-in checks its form only. */
  static final String ENCRYPTED_PEM =
      """
      -----BEGIN RSA PRIVATE KEY-----
      Proc-Type: 4,ENCRYPTED
      DEK-Info: AES-256-CBC,5A1C3B2E9F0D4C6B8A7E1F2D3C4B5A69

      bm9kZS10ZXN0LWtleS1ib2R5LW5vdC1hLXJlYWwta2V5
      -----END RSA PRIVATE KEY-----
      """;

  private static NodeNamespace space;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-keys");
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
  }

  @Test
  void a_mount_pod_with_keys_runs_and_serves_the_app() throws Exception {
    String pv =
        space.staticVolume(
            "keys",
            Map.of(
                "juicefs/mount-labels", "{team: data}",
                "juicefs/mount-annotations", "{\"example.com/owner\": \"ops team\"}",
                "juicefs/mount-cache-emptydir", "Memory:64Mi",
                "juicefs/host-path", NodeNamespace.STANDIN.toString()),
            List.of());
    space
        .kube
        .secrets()
        .inNamespace(space.ns)
        .withName(pv)
        .edit(
            s -> {
              s.setStringData(
                  Map.of("encrypt_rsa_key", ENCRYPTED_PEM, "passphrase", "node pass phrase"));
              return s;
            });
    space.create(
        NodeNamespace.app(
            "writer",
            "keys",
            "echo written-through-keys > /data/out && cat /data/out && exec sleep 3600"));
    space.awaitRunning("writer", Duration.ofMinutes(3));
    space.await(
        Duration.ofSeconds(30),
        "writer's log",
        () -> space.log("writer").contains("written-through-keys"));
    assertThat(Files.readString(space.dataOf(pv).resolve("out")))
        .as("the write reached the file system through the Mount Pod")
        .isEqualTo("written-through-keys\n");

    Pod mountPod = space.mountPodOf(pv);
    assertThat(mountPod.getStatus().getPhase()).isEqualTo("Running");
    assertThat(mountPod.getMetadata().getLabels()).containsEntry("team", "data");
    assertThat(mountPod.getMetadata().getAnnotations())
        .containsEntry("example.com/owner", "ops team");
    Volume empty =
        mountPod.getSpec().getVolumes().stream()
            .filter(v -> v.getEmptyDir() != null)
            .findFirst()
            .orElseThrow();
    assertThat(empty.getEmptyDir().getMedium()).isEqualTo("Memory");
    assertThat(mountPod.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("--cache-dir=/var/jfsCache-emptyDir")
        .contains("--encrypt-rsa-key=/root/.rsa/rsa-key.pem")
        .doesNotContain("bm9kZS10ZXN0");
    String mountLog =
        space
            .kube
            .pods()
            .inNamespace(RealNode.NAMESPACE)
            .withName(mountPod.getMetadata().getName())
            .getLog();
    assertThat(mountLog)
        .contains("volume encrypted with the RSA key in /root/.rsa/rsa-key.pem")
        .doesNotContain("node pass phrase");
    assertThat(exec(mountPod, "stat", "-f", "-c", "%T", "/var/jfsCache-emptyDir").strip())
        .as("the cache is on the memory emptyDir")
        .isEqualTo("tmpfs");
    assertThat(exec(mountPod, "stat", "-L", "-c", "%a", "/root/.rsa/rsa-key.pem").strip())
        .as("the key file kubelet wrote from the client's Secret")
        .isEqualTo("400");
  }

  private static String exec(Pod pod, String... command) throws Exception {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    try (var watch =
        space
            .kube
            .pods()
            .inNamespace(RealNode.NAMESPACE)
            .withName(pod.getMetadata().getName())
            .inContainer("jfs-mount")
            .writingOutput(out)
            .exec(command)) {
      watch.exitCode().get(30, TimeUnit.SECONDS);
    }
    return out.toString(StandardCharsets.UTF_8);
  }
}

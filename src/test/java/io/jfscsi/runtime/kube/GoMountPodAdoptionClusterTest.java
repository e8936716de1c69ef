package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.jfscsi.host.MountInfo;
import io.jfscsi.testing.HostRequirements;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upgrade from the JuiceFS CSI Driver (Go) on a node: before our driver starts, a Mount Pod made
 * exactly as the Go driver makes one serves an app pod's target (bound to its mount point as the Go
 * driver binds it). The REAL driver (node role, runtime kubernetes, the node RBAC of the manifests)
 * then starts, the kubelet stand-in publishing through its socket: it adopts the Go pod instead of
 * starting another, serves a second app pod of the same PV, releases the first app pod's reference
 * when kubelet unpublishes it, deletes the Go pod at the last release, and leaves the Go driver's
 * Secret (which belongs to its PV) alone.
 *
 * <p>The one departure from the Go pod's shape: its {@code jfs-dir} hostPath is mounted at the host
 * path itself instead of {@code /jfs}, because the stand-in runs containers on the host (mount
 * command {@code /bin/mount.juicefs ${metaurl} <mount-root>/<pv>-<rand6> -o ...}).
 */
class GoMountPodAdoptionClusterTest {
  @TempDir Path dir;
  PublishingNode node;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new PublishingNode(dir, "goadopt").withNodeRbac(dir.resolve("node.kubeconfig"));
    node.startKubelet();
  }

  @AfterEach
  void stop() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  /** The Go driver's GetReferenceKey: "juicefs-" + hex(sha256(target)), cut to 63. */
  static String goReferenceKey(String target) throws Exception {
    String key =
        "juicefs-"
            + HexFormat.of()
                .formatHex(
                    MessageDigest.getInstance("SHA-256")
                        .digest(target.getBytes(StandardCharsets.UTF_8)));
    return key.substring(0, 63);
  }

  /**
   * The Go driver's Secret {@code juicefs-<uniqueId>-secret} of a client of file system "testfs" at
   * {@code metaurl}, as it writes one; returns its name.
   */
  static String goSecret(PublishingNode node, String uniqueId, String metaurl) {
    String goSecret = "juicefs-" + uniqueId + "-secret";
    node.api
        .secrets()
        .inNamespace(node.namespace)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(goSecret)
                .addToLabels("juicefs/secret", "true")
                .endMetadata()
                .addToStringData("metaurl", metaurl)
                .addToStringData("name", "testfs")
                .addToStringData(
                    "jfsSettings",
                    "{\"name\":\"testfs\",\"metaurl\":\""
                        + metaurl
                        + "\",\"storage\":\"\",\"bucket\":\"\",\"Options\":[],\"deleted_delay\":\"\","
                        + "\"clean_cache\":false,\"envs_map\":{},\"configs_map\":{}}")
                .build())
        .create();
    return goSecret;
  }

  /**
   * A Mount Pod made as the Go driver makes one for {@code uniqueId} (a volume, or in a share mode
   * a StorageClass), mounting at {@code mp} under {@code mountRoot}, with the references of {@code
   * targets}; returns its name.
   */
  static String goMountPod(
      PublishingNode node,
      String uniqueId,
      String goSecret,
      Path mountRoot,
      Path mp,
      List<Path> targets)
      throws Exception {
    String goPod = "juicefs-" + node.node + "-" + mp.getFileName();
    Map<String, String> references = new java.util.HashMap<>();
    for (Path t : targets) {
      references.put(goReferenceKey(t.toString()), t.toString());
    }
    node.api
        .pods()
        .inNamespace(node.namespace)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(goPod)
                .addToLabels("app.kubernetes.io/name", "juicefs-mount")
                .addToLabels("volume-id", uniqueId)
                .addToLabels(
                    "juicefs-hash", "4f2d1c0b9a8e7d6c5b4a39281706f5e4d3c2b1a09f8e7d6c5b4a392817065")
                .addToAnnotations(references)
                .addToAnnotations("juicefs-uniqueid", uniqueId)
                .addToFinalizers("juicefs.com/finalizer")
                .endMetadata()
                .withNewSpec()
                .withNodeName(node.node)
                .withRestartPolicy("Always")
                .withTerminationGracePeriodSeconds(2L)
                .addNewContainer()
                .withName("jfs-mount")
                .withImage("juicedata/mount:ce-v1.2.3")
                .withCommand(
                    "sh",
                    "-c",
                    "/usr/local/bin/juicefs format --no-update ${metaurl} testfs && "
                        + "exec /bin/mount.juicefs ${metaurl} "
                        + mp
                        + " -o metrics=0.0.0.0:9567")
                .addNewEnv()
                .withName("metaurl")
                .withNewValueFrom()
                .withNewSecretKeyRef()
                .withName(goSecret)
                .withKey("metaurl")
                .endSecretKeyRef()
                .endValueFrom()
                .endEnv()
                .addNewEnv()
                .withName("JFS_FOREGROUND")
                .withValue("1")
                .endEnv()
                .addNewVolumeMount()
                .withName("jfs-dir")
                .withMountPath(mountRoot.toString())
                .withMountPropagation("Bidirectional")
                .endVolumeMount()
                .withNewSecurityContext()
                .withPrivileged(true)
                .endSecurityContext()
                .endContainer()
                .addNewVolume()
                .withName("jfs-dir")
                .withNewHostPath()
                .withPath(mountRoot.toString())
                .withType("DirectoryOrCreate")
                .endHostPath()
                .endVolume()
                .endSpec()
                .build())
        .create();
    return goPod;
  }

  static String rand6() {
    String letters = "abcdefghijklmnopqrstuvwxyz0123456789";
    SecureRandom r = new SecureRandom();
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < 6; i++) {
      b.append(letters.charAt(r.nextInt(letters.length())));
    }
    return b.toString();
  }

  @Test
  void theRealDriverAdoptsAGoMountPodServesItAndReleasesIt() throws Exception {
    String pv = node.staticVolume("data", Map.of(), List.of());
    Path data = node.driver.data;
    String metaurl = "local://" + data;

    // The Go driver's Secret of the PV.
    String goSecret = goSecret(node, pv, metaurl);

    // The first app pod: kubelet cannot publish it yet (no driver on the node's socket) ...
    Pod app1 = node.appPod("app-1", "data");
    Path t1 = node.target(app1, pv);

    // ... the Go driver's Mount Pod serves it, with the reference of its target.
    String suffix = rand6();
    Path mountRoot = node.driver.dir.resolve("mnt");
    Files.createDirectories(mountRoot);
    Path mp = mountRoot.resolve(pv + "-" + suffix);
    String goPod = goMountPod(node, pv, goSecret, mountRoot, mp, List.of(t1));
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                MountPodWatch.runningAndReady(node.mountPod(goPod))
                    && MountInfo.topMostAt(MountInfo.self(), mp).isPresent());
    Files.createDirectories(t1);
    run("mount", "--bind", mp.toString(), t1.toString());
    Files.writeString(t1.resolve("from-go.txt"), "served by the Go pod");
    assertThat(data.resolve("from-go.txt")).hasContent("served by the Go pod");
    Pod pending = node.api.pods().inNamespace(node.namespace).withName("app-1").get();
    assertThat(pending.getStatus() == null ? null : pending.getStatus().getPhase())
        .isNotEqualTo("Running");

    // Our driver starts: it adopts the Go pod (kubelet's publish of app-1 is now answered by it).
    node.startDriver();
    node.awaitRunning("app-1");
    assertThat(node.mountPods()).extracting(p -> p.getMetadata().getName()).containsExactly(goPod);
    assertThat(PublishingNode.references(node.mountPod(goPod))).containsExactly(t1.toString());
    Files.writeString(t1.resolve("after-adoption.txt"), "still the Go pod");
    assertThat(data.resolve("after-adoption.txt")).hasContent("still the Go pod");

    // A second app pod of the same PV: the Go pod serves it too (same volume, same settings).
    Pod app2 = node.appPod("app-2", "data");
    node.awaitRunning("app-2");
    Path t2 = node.target(app2, pv);
    assertThat(node.mountPods()).extracting(p -> p.getMetadata().getName()).containsExactly(goPod);
    assertThat(PublishingNode.references(node.mountPod(goPod)))
        .containsExactlyInAnyOrder(t1.toString(), t2.toString());
    assertThat(t2.resolve("from-go.txt")).hasContent("served by the Go pod");
    Files.writeString(t2.resolve("from-app-2.txt"), "two");
    assertThat(t1.resolve("from-app-2.txt")).hasContent("two");

    // The first app pod goes: kubelet unpublishes it, its reference is released, the pod stays.
    node.api.pods().inNamespace(node.namespace).withName("app-1").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> PublishingNode.references(node.mountPod(goPod)).equals(Set.of(t2.toString())));
    assertThat(MountPodWatch.runningAndReady(node.mountPod(goPod))).isTrue();
    assertThat(t2.resolve("from-app-2.txt")).hasContent("two");

    // The last one: the Go pod is deleted (its finalizer removed); its Secret stays.
    node.api.pods().inNamespace(node.namespace).withName("app-2").delete();
    await().atMost(Duration.ofSeconds(60)).until(() -> node.mountPods().isEmpty());
    assertThat(node.api.secrets().inNamespace(node.namespace).withName(goSecret).get())
        .as("the Go driver's Secret belongs to its PV")
        .isNotNull();
    assertThat(node.forbiddenCalls()).as("calls the node RBAC does not allow").isEmpty();
  }

  static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", command), out).isZero();
  }
}

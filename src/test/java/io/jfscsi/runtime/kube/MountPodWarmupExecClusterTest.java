package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Quantity;
import io.jfscsi.cli.Main;
import io.jfscsi.testing.HostRequirements;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code jfs-csi warmup --pvc} all the way: a real driver on the kubernetes runtime publishes a
 * volume, the kubelet stand-in runs its Mount Pod (the juicefs shim serves the volume through
 * FUSE), and the command runs {@code juicefs warmup} in it through the API server's exec, which the
 * API server proxies to the stand-in's kubelet port.
 */
class MountPodWarmupExecClusterTest {
  @TempDir Path dir;
  KubeNode node;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    node = new KubeNode(dir, Map.of()).startDriver();
  }

  @AfterEach
  void close() throws Exception {
    if (node != null) {
      node.close();
    }
  }

  private int warmup(StringWriter out, String... paths) {
    String[] args = new String[paths.length + 7];
    args[0] = "warmup";
    args[1] = "--pvc";
    args[2] = node.namespace + "/claim";
    args[3] = "--kubeconfig";
    args[4] = node.cluster.kubeconfig().toString();
    args[5] = "--timeout";
    args[6] = "30";
    System.arraycopy(paths, 0, args, 7, paths.length);
    return Main.commandLine()
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(out))
        .execute(args);
  }

  @Test
  void warmsTheFilesUnderThePathsInsideTheMountPodAndFailsOnAMissingPath() throws Exception {
    String pv = node.namespace + "-pv"; // PVs are cluster-wide; the harness outlives a run
    node.api
        .persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("")
                .withNewCsi()
                .withDriver("csi.juicefs.com")
                .withVolumeHandle(pv)
                .withVolumeAttributes(Map.of("subPath", pv))
                .endCsi()
                .endSpec()
                .build())
        .create();
    node.api
        .persistentVolumeClaims()
        .inNamespace(node.namespace)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("claim")
                .endMetadata()
                .withNewSpec()
                .withStorageClassName("")
                .withVolumeName(pv)
                .withAccessModes("ReadWriteMany")
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    Path target = node.appTarget("app-1", pv);
    node.publish(pv, target, Map.of()); // the fixture's publish has subPath=<volume id>, as the PV
    Pod mountPod = node.onlyMountPod().orElseThrow();
    Files.createDirectories(target.resolve("models/sub"));
    Files.write(target.resolve("models/a.bin"), new byte[1000]);
    Files.writeString(target.resolve("models/sub/b.txt"), "twelve bytes");
    Files.writeString(target.resolve("elsewhere.txt"), "not under models");

    StringWriter out = new StringWriter();
    int code = warmup(out, "models");
    String mountPath = mountPod.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH);
    assertThat(out.toString())
        .contains(
            node.namespace
                + "/"
                + mountPod.getMetadata().getName()
                + " on node "
                + node.node
                + ": juicefs warmup "
                + mountPath
                + "/"
                + pv
                + "/models")
        .contains("warmed up 2 files (1012 bytes)")
        .contains("exit code 0");
    assertThat(code).as(out.toString()).isZero();

    StringWriter missing = new StringWriter();
    int failed = warmup(missing, "models", "nope");
    assertThat(failed).as(missing.toString()).isNotZero();
    assertThat(missing.toString())
        .contains("nope does not exist")
        .contains("exit code 1")
        .doesNotContain("warmed up");

    node.unpublish(pv, target);
    node.api.persistentVolumes().withName(pv).delete();
  }
}

package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.VolumeMountBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.BooleanSupplier;

/**
 * A namespace of its own on the real node ({@link RealNode}) and what the node tests make in it:
 * stand-in file systems, static PVs and claims on them, app pods from the mount image; and the
 * waits and reads those tests share. {@link #close()} removes all of it, the stand-in's files of
 * its file systems included.
 */
final class NodeNamespace implements AutoCloseable {
  static final String MOUNT_IMAGE = "localhost/jfs-csi-mount:dev";

  /** The stand-in's volumes: a host directory every Mount Pod sees (its default cache hostPath). */
  static final Path STANDIN = Path.of("/var/jfsCache/jfs-standin");

  /** Two cores on this node: the Go driver's default request (1 CPU) would not fit twice. */
  static final Map<String, String> SMALL_MOUNT_POD =
      Map.of("juicefs/mount-cpu-request", "50m", "juicefs/mount-memory-request", "64Mi");

  /** Each app prints "MILLIS ok" or "MILLIS failed" for a read of /data/f, five times a second. */
  static final String READER =
      "[ -s /data/f ] || echo steady > /data/f; while true; do"
          + " if [ \"$(cat /data/f 2>/dev/null)\" = steady ]; then echo \"$(date +%s%3N) ok\";"
          + " else echo \"$(date +%s%3N) failed\"; fi; sleep 0.2; done";

  final RealNode node;
  final KubernetesClient kube;
  final String ns;

  private NodeNamespace(RealNode node, String ns) {
    this.node = node;
    this.kube = node.client();
    this.ns = ns;
  }

  /** A fresh namespace named PREFIX-RANDOM, once its default ServiceAccount has its token. */
  static NodeNamespace create(String prefix) {
    RealNode node = RealNode.shared();
    String ns =
        prefix
            + "-"
            + Long.toString(ThreadLocalRandom.current().nextLong(36 * 36 * 36 * 36 * 36L), 36);
    NodeNamespace space = new NodeNamespace(node, ns);
    space
        .kube
        .namespaces()
        .resource(new NamespaceBuilder().withNewMetadata().withName(ns).endMetadata().build())
        .create();
    space.await(
        Duration.ofSeconds(60),
        "the default ServiceAccount of " + ns,
        () -> {
          var sa = space.kube.serviceAccounts().inNamespace(ns).withName("default").get();
          return sa != null && !sa.getSecrets().isEmpty();
        });
    return space;
  }

  /** Pods, claims, the namespace, PVs and StorageClasses named after it, the stand-in's files. */
  @Override
  public void close() throws IOException {
    kube.pods().inNamespace(ns).delete();
    kube.persistentVolumeClaims().inNamespace(ns).delete();
    kube.namespaces().withName(ns).delete();
    kube.persistentVolumes().list().getItems().stream()
        .filter(pv -> pv.getMetadata().getName().startsWith(ns))
        .forEach(pv -> kube.persistentVolumes().resource(pv).delete());
    kube.storage().v1().storageClasses().list().getItems().stream()
        .filter(sc -> sc.getMetadata().getName().startsWith(ns))
        .forEach(sc -> kube.storage().v1().storageClasses().resource(sc).delete());
    if (Files.isDirectory(STANDIN)) {
      try (var files = Files.list(STANDIN)) {
        for (Path fs : files.filter(p -> p.getFileName().toString().startsWith(ns)).toList()) {
          try (var walk = Files.walk(fs)) {
            for (Path f : walk.sorted(Comparator.reverseOrder()).toList()) {
              Files.deleteIfExists(f);
            }
          }
        }
      }
    }
  }

  /** The metaurl of stand-in file system NAME: its data is in {@link #dataOf}. */
  String metaurl(String fs) {
    return "sqlite3://" + STANDIN.resolve(fs + ".db");
  }

  /** Where the stand-in keeps the files of file system FS (its "object storage"). */
  Path dataOf(String fs) {
    return STANDIN.resolve(fs + ".db.d");
  }

  /** A Secret NAME of stand-in file system FS. */
  void secret(String name, String fs) {
    kube.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withStringData(Map.of("name", fs, "metaurl", metaurl(fs)))
                .build())
        .create();
  }

  /**
   * A stand-in file system NS-NAME with its Secret, a static PV of the same name (volume attributes
   * on top of a small Mount Pod's, mount options) and a claim NAME bound to it; returns the PV's
   * name.
   */
  String staticVolume(String name, Map<String, String> attributes, List<String> mountOptions) {
    String fs = ns + "-" + name;
    secret(fs, fs);
    Map<String, String> context = new HashMap<>(SMALL_MOUNT_POD);
    context.putAll(attributes);
    kube.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(fs)
                .endMetadata()
                .withNewSpec()
                .withCapacity(Map.of("storage", new Quantity("1Gi")))
                .withAccessModes("ReadWriteMany")
                .withPersistentVolumeReclaimPolicy("Retain")
                .withStorageClassName("")
                .withMountOptions(mountOptions)
                .withNewCsi()
                .withDriver("csi.juicefs.com")
                .withVolumeHandle(fs)
                .withVolumeAttributes(context)
                .withNewNodePublishSecretRef()
                .withName(fs)
                .withNamespace(ns)
                .endNodePublishSecretRef()
                .endCsi()
                .endSpec()
                .build())
        .create();
    kube.persistentVolumeClaims().inNamespace(ns).resource(claim(name, "", fs)).create();
    return fs;
  }

  void removeClaimAndVolume(String claim, String pv) {
    kube.persistentVolumeClaims().inNamespace(ns).withName(claim).delete();
    kube.persistentVolumes().withName(pv).delete();
  }

  static PersistentVolumeClaim claim(String name, String storageClass, String volume) {
    return new PersistentVolumeClaimBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withAccessModes("ReadWriteMany")
        .withStorageClassName(storageClass)
        .withVolumeName(volume)
        .withNewResources()
        .withRequests(Map.of("storage", new Quantity("1Gi")))
        .endResources()
        .endSpec()
        .build();
  }

  /** An app pod running SCRIPT with the claim at /data, HostToContainer propagation. */
  static Pod app(String name, String claim, String script) {
    return app(name, claim, script, "HostToContainer", null);
  }

  /**
   * An app pod running SCRIPT with the claim at /data: PROPAGATION null for none (the default),
   * SUBPATH null for the whole volume.
   */
  static Pod app(String name, String claim, String script, String propagation, String subPath) {
    return new PodBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .withNewSpec()
        .withTerminationGracePeriodSeconds(1L)
        .addNewContainer()
        .withName("app")
        .withImage(MOUNT_IMAGE)
        .withImagePullPolicy("Never")
        .withCommand("sh", "-c", script)
        .withVolumeMounts(
            new VolumeMountBuilder()
                .withName("data")
                .withMountPath("/data")
                .withMountPropagation(propagation)
                .withSubPath(subPath)
                .build())
        .endContainer()
        .addNewVolume()
        .withName("data")
        .withNewPersistentVolumeClaim()
        .withClaimName(claim)
        .endPersistentVolumeClaim()
        .endVolume()
        .endSpec()
        .build();
  }

  void create(Pod pod) {
    kube.pods().inNamespace(ns).resource(pod).create();
  }

  void awaitRunning(String pod, Duration timeout) {
    await(
        timeout,
        "pod " + pod + " Running",
        () -> {
          Pod p = kube.pods().inNamespace(ns).withName(pod).get();
          return p != null && "Running".equals(p.getStatus().getPhase());
        });
  }

  String log(String pod) {
    try {
      return kube.pods().inNamespace(ns).withName(pod).getLog();
    } catch (RuntimeException e) {
      return "";
    }
  }

  List<Event> events(String pod) {
    return kube.v1().events().inNamespace(ns).list().getItems().stream()
        .filter(e -> pod.equals(e.getInvolvedObject().getName()))
        .toList();
  }

  /** The running (not deleted) Mount Pod of the volume, or null. */
  Pod mountPodOfOrNull(String volumeId) {
    return kube
        .pods()
        .inNamespace(RealNode.NAMESPACE)
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .list()
        .getItems()
        .stream()
        .filter(p -> p.getMetadata().getDeletionTimestamp() == null)
        .filter(p -> volumeId.equals(p.getMetadata().getAnnotations().get(MountPodNames.UNIQUE_ID)))
        .findFirst()
        .orElse(null);
  }

  Pod mountPodOf(String volumeId) {
    Pod p = mountPodOfOrNull(volumeId);
    assertThat(p).as("the Mount Pod of " + volumeId).isNotNull();
    return p;
  }

  /** No Mount Pod, not even a terminating one, for the volume. */
  boolean noMountPodOf(String volumeId) {
    return kube
        .pods()
        .inNamespace(RealNode.NAMESPACE)
        .withLabel(MountPodNames.APP_LABEL, MountPodNames.APP)
        .list()
        .getItems()
        .stream()
        .noneMatch(
            p -> volumeId.equals(p.getMetadata().getAnnotations().get(MountPodNames.UNIQUE_ID)));
  }

  /** The first "ok" after a "failed" that followed the kill: the app read through the outage. */
  OptionalLong readingAgainAfter(String app, long killedAt) {
    boolean failed = false;
    for (String line : log(app).split("\n")) {
      String[] f = line.strip().split(" ");
      if (f.length != 2 || !f[0].matches("\\d+") || Long.parseLong(f[0]) < killedAt) {
        continue;
      }
      if (f[1].equals("failed")) {
        failed = true;
      } else if (failed && f[1].equals("ok")) {
        return OptionalLong.of(Long.parseLong(f[0]));
      }
    }
    return OptionalLong.empty();
  }

  /** The stand-in's client: bindfs, its last argument the Mount Pod's mount path. */
  static Optional<ProcessHandle> clientServing(Path mountPath) {
    return ProcessHandle.allProcesses()
        .filter(
            p -> {
              List<String> argv = argv(p);
              return argv.size() > 2
                  && argv.get(0).endsWith("bindfs")
                  && argv.get(argv.size() - 1).equals(mountPath.toString());
            })
        .findFirst();
  }

  static boolean isClientOf(ProcessHandle p, String source) {
    List<String> argv = argv(p);
    return argv.size() > 2 && argv.get(0).endsWith("bindfs") && argv.contains(source);
  }

  static List<String> argv(ProcessHandle p) {
    try {
      byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
      return raw.length == 0 ? List.of() : List.of(new String(raw).split("\0"));
    } catch (IOException e) {
      return List.of();
    }
  }

  void await(Duration timeout, String what, BooleanSupplier condition) {
    await(timeout, what, condition, Duration.ofMillis(250));
  }

  /** As {@link #await(Duration, String, BooleanSupplier)}, looking every {@code poll}. */
  void await(Duration timeout, String what, BooleanSupplier condition, Duration poll) {
    Instant deadline = Instant.now().plus(timeout);
    while (!condition.getAsBoolean()) {
      if (Instant.now().isAfter(deadline)) {
        throw new AssertionError(what + ": not within " + timeout + "\n" + diagnostics());
      }
      try {
        Thread.sleep(poll.toMillis());
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what);
      }
    }
  }

  String diagnostics() {
    try {
      return node.kubectl("get", "pods,pvc,pv", "-A", "-o", "wide")
          + "\n"
          + node.kubectl("get", "events", "-A", "--sort-by=.lastTimestamp");
    } catch (RuntimeException e) {
      return "(no diagnostics: " + e.getMessage() + ")";
    }
  }
}

package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.fusefd.FuseFdKeeping;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.KubeletStandIn;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link KubeMountRuntime#upgrade} against a real kube-apiserver, the kubelet stand-in running the
 * clients: a client whose image cannot pass its FUSE connection is refused and its pod, mount and
 * references stay exactly as they were. (The stand-in mounts a hostPath only at its own path, so it
 * cannot run a pod that sees its fd directory at /tmp: the handover itself is covered by the actor
 * simulations and the keeper's protocol tests, and on a real node with a real juicefs only.)
 */
class MountPodUpgradeClusterTest {
  static final String T1 = "/k/pods/u1/volumes/kubernetes.io~csi/pv/mount";

  @TempDir Path dir;
  KubeCluster cluster;
  KubernetesClient api;
  String ns;
  KubeletStandIn kubelet;
  KubeMountRuntime runtime;
  KubeRuntimeConfig runtimeConfig;
  final List<String> keeperCalls = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    cluster = KubeCluster.shared();
    api = cluster.client();
    ns = cluster.newNamespace("upg");
    String node = "node-" + ns;
    kubelet = new KubeletStandIn(cluster, node).start();
    runtimeConfig =
        new KubeRuntimeConfig(
            node,
            ns,
            "juicedata/mount:test",
            "",
            "",
            Duration.ofSeconds(20),
            Duration.ofSeconds(2),
            dir.resolve("mnt"),
            KubeRuntimeConfig.DEFAULT_CONFIG_MAP,
            "",
            "",
            dir.resolve("fd").toString());
    runtime =
        new KubeMountRuntime(
            runtimeConfig,
            api,
            new LinuxMounter(),
            new RequestCounter(),
            Duration.ofSeconds(1),
            false);
    runtime.keepFuseFds(recordingKeeping());
    await().atMost(Duration.ofSeconds(20)).until(runtime::ready);
  }

  @AfterEach
  void tearDown() {
    if (runtime != null) {
      runtime.close();
    }
    if (kubelet != null) {
      kubelet.close();
    }
  }

  @Test
  void aClientWhoseImageCannotPassItsConnectionIsRefusedAndNothingChanges() throws Exception {
    Path data = Files.createDirectories(dir.resolve("data"));
    VolumeSettings s =
        SettingsParser.parse(
            new VolumeSource(
                "pv-u", Map.of("name", "fs1", "metaurl", "local://" + data), Map.of(), List.of()));
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    RunningClient c =
        runtime
            .start(key, s, Optional.empty(), e -> {})
            .toCompletableFuture()
            .get(60, TimeUnit.SECONDS);
    runtime.save(new ClientRecord(key, s.source(), Set.of(T1), Optional.empty(), Optional.of(c)));
    Pod before = api.pods().inNamespace(ns).withName(c.handle()).get();
    assertThat(FusePassing.given(before))
        .as("an image of unknown version gets no socket")
        .isFalse();

    Failure failure = upgradeFailure(c, s, Duration.ofSeconds(30));
    assertThat(failure.code()).isEqualTo(Failure.Code.FAILED_PRECONDITION);
    assertThat(failure.getMessage())
        .contains("smooth upgrade of Mount Pod " + c.handle() + " refused, nothing changed")
        .contains("juicedata/mount:test")
        .contains("CE 1.2.1 or later")
        .contains("files open in the old client break");
    Pod after = api.pods().inNamespace(ns).withName(c.handle()).get();
    assertThat(after).isNotNull();
    assertThat(after.getMetadata().getDeletionTimestamp()).isNull();
    assertThat(PodReferences.targets(after.getMetadata().getAnnotations())).containsExactly(T1);
    assertThat(api.pods().inNamespace(ns).list().getItems()).hasSize(1);
    Files.writeString(c.mountPath().resolve("still.txt"), "served");
    assertThat(Files.readString(data.resolve("still.txt"))).isEqualTo("served");
    // A fresh client drops whatever a keeper of its key held ("close"); none is opened or asked.
    assertThat(keeperCalls)
        .as("no keeper for a client that cannot pass its fd")
        .allMatch(call -> call.startsWith("close "));
    runtime.stop(c).toCompletableFuture().get(60, TimeUnit.SECONDS);
  }

  /**
   * A Mount Pod as this driver makes it for a client that passes its fd (the stand-in cannot run
   * one: it is created in the API server and never runs), whose mount has no readable .config: the
   * process to signal is unknown, so the upgrade is refused before anything is taken or deleted.
   */
  @Test
  void aClientWhoseConfigCannotBeReadIsNotSignalledAndNothingChanges() throws Exception {
    PassingPod old = passingPod("cfg001");

    awaitRefused(old, "cannot read the client's " + old.mountPath().resolve(".config"));

    Pod after = api.pods().inNamespace(ns).withName(old.name()).get();
    assertThat(after.getMetadata().getDeletionTimestamp()).isNull();
    assertThat(api.pods().inNamespace(ns).list().getItems()).hasSize(1);
    try (var left = Files.list(old.fdDir())) {
      assertThat(left).as("no handover marker").isEmpty();
    }
    api.pods().inNamespace(ns).withName(old.name()).withGracePeriod(0).delete();
  }

  /**
   * The handover's order, seen from outside: the marker naming the client's process (from its
   * .config) is in the client's directory when the old pod is deleted, the deletion gives the hook
   * at least {@link MountPodUpgrade#HANDOVER_GRACE}, and the marker is gone afterwards. The new pod
   * cannot run under the stand-in (its directory at /tmp), so the upgrade then fails as it must
   * when no successor takes the connection: UNAVAILABLE, and the keeper drops the connection.
   */
  @Test
  void theMarkerNamesTheClientsProcessWhileTheOldPodGoesWithTheHandoverGrace() throws Exception {
    PassingPod old = passingPod("seq001");
    awaitRefused(old, ".config"); // the runtime sees the pod
    Files.writeString(
        old.mountPath().resolve(".config"), "{\"Meta\":{\"Sid\":9},\"Pid\":4242,\"PPid\":1}");
    Path marker = old.fdDir().resolve(FusePassing.handoverMarker(old.name()));
    List<String> markerSeen = new CopyOnWriteArrayList<>();
    List<Long> graceSeen = new CopyOnWriteArrayList<>();
    try (var watch =
        api.pods()
            .inNamespace(ns)
            .withName(old.name())
            .watch(
                new io.fabric8.kubernetes.client.Watcher<Pod>() {
                  @Override
                  public void eventReceived(Action action, Pod p) {
                    if (p.getMetadata().getDeletionTimestamp() != null) {
                      graceSeen.add(p.getMetadata().getDeletionGracePeriodSeconds());
                      try {
                        markerSeen.add(Files.readString(marker));
                      } catch (java.io.IOException e) {
                        markerSeen.add("none: " + e);
                      }
                    }
                  }

                  @Override
                  public void onClose(io.fabric8.kubernetes.client.WatcherException cause) {}
                })) {
      Failure failure = upgradeFailure(old.client(), old.settings(), Duration.ofSeconds(90));
      assertThat(failure.code()).isEqualTo(Failure.Code.UNAVAILABLE);
      assertThat(failure.getMessage())
          .contains("the new pod did not take its FUSE connection over");
    }
    assertThat(markerSeen)
        .as("the marker as the old pod is deleted")
        .isNotEmpty()
        .allMatch("4242"::equals);
    assertThat(graceSeen.getFirst())
        .isGreaterThanOrEqualTo(MountPodUpgrade.HANDOVER_GRACE.toSeconds());
    assertThat(marker).as("the marker is removed once the old pod is gone").doesNotExist();
    assertThat(api.pods().inNamespace(ns).withName(old.name()).get()).isNull();
    assertThat(keeperCalls).contains("close " + FusePassing.upgradeId(old.client().key()));
  }

  /** The failure the upgrade of {@code c} ends with, within {@code limit}. */
  private Failure upgradeFailure(RunningClient c, VolumeSettings s, Duration limit) {
    Throwable error =
        org.assertj.core.api.Assertions.catchThrowable(
            () ->
                runtime
                    .upgrade(c, s, e -> {})
                    .toCompletableFuture()
                    .get(limit.toSeconds(), TimeUnit.SECONDS));
    assertThat(error).as("the upgrade fails").isInstanceOf(ExecutionException.class);
    return (Failure) Failure.unwrap(error);
  }

  /** A client that passes its fd, as its pod, settings and directories. */
  record PassingPod(
      String name, VolumeSettings settings, Path mountPath, Path fdDir, RunningClient client) {}

  /**
   * Pod SUFFIX of a client that passes its fd, in the API server on this node; the keeper holds.
   */
  private PassingPod passingPod(String suffix) throws Exception {
    holding = true;
    VolumeSettings s =
        SettingsParser.parse(
            new VolumeSource(
                "pv-" + suffix,
                Map.of("name", "fs2", "metaurl", "redis://r:6379/1"),
                Map.of("juicefs/mount-image", "juicedata/mount:ce-v1.2.1"),
                List.of()));
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    Path mountPath = Files.createDirectories(dir.resolve("plain-" + suffix));
    String name = MountPodNames.podName(runtimeConfig.nodeName(), s.volumeId(), suffix);
    Pod pod =
        MountPodBuilder.build(
            runtimeConfig,
            new MountPodBuilder.Identity(key, name, mountPath),
            s,
            MountPodSecret.of("sec", s));
    Path fdDir = FusePassing.apply(pod, runtimeConfig.fuseFdDir(), key).orElseThrow();
    assertThat(FusePassing.handsOver(pod)).as("the handover hook").isTrue();
    pod.getSpec().setNodeName(runtimeConfig.nodeName());
    api.pods().inNamespace(ns).resource(pod).create();
    Files.createDirectories(fdDir);
    return new PassingPod(
        name,
        s,
        mountPath,
        fdDir,
        new RunningClient(key, mountPath, name, java.time.Instant.now()));
  }

  /** Asks for the upgrade until the runtime sees the pod and refuses it for WHY. */
  private void awaitRefused(PassingPod old, String why) {
    await()
        .atMost(Duration.ofSeconds(20))
        .untilAsserted(
            () -> {
              Failure failure =
                  upgradeFailure(old.client(), old.settings(), Duration.ofSeconds(30));
              assertThat(failure.code()).isEqualTo(Failure.Code.FAILED_PRECONDITION);
              assertThat(failure.getMessage())
                  .contains(
                      "smooth upgrade of Mount Pod " + old.name() + " refused, nothing changed")
                  .contains(why);
            });
  }

  private volatile boolean holding;

  private FuseFdKeeping recordingKeeping() {
    return new FuseFdKeeping() {
      @Override
      public void open(String upgradeId, Path in) {
        keeperCalls.add("open " + upgradeId);
      }

      @Override
      public void close(String upgradeId) {
        keeperCalls.add("close " + upgradeId);
      }

      @Override
      public Optional<String> holding(String upgradeId) {
        keeperCalls.add("holding " + upgradeId);
        return holding ? Optional.of("fd 9") : Optional.empty();
      }
    };
  }
}

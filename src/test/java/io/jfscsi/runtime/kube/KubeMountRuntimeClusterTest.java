package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.batch.v1.Job;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
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
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.assertj.core.api.Assertions;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link KubeMountRuntime} against a real kube-apiserver, with {@link KubeletStandIn} running the
 * clients (the Mount Pod's own command, with the test-only {@code juicefs} shim): what the runtime
 * writes and reads, and how many API requests each step costs (printed as "API requests ...").
 */
class KubeMountRuntimeClusterTest {
  static final String T1 = "/k/pods/u1/volumes/kubernetes.io~csi/pv/mount";
  static final String T2 = "/k/pods/u2/volumes/kubernetes.io~csi/pv/mount";

  @TempDir Path dir;
  KubeCluster cluster;
  KubernetesClient api;
  RequestCounter counter;
  String ns;
  String node;
  Path data;
  KubeletStandIn kubelet;
  KubeRuntimeConfig config;
  final List<KubeMountRuntime> runtimes = new ArrayList<>();
  final List<ClientExit> exits = new CopyOnWriteArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    cluster = KubeCluster.shared();
    counter = new RequestCounter();
    api =
        new KubernetesClientBuilder()
            .withConfig(cluster.config())
            .withHttpClientBuilderConsumer(b -> b.addOrReplaceInterceptor("count", counter))
            .build();
    ns = cluster.newNamespace("kmr");
    node = "node-" + ns;
    data = Files.createDirectories(dir.resolve("data"));
    kubelet = new KubeletStandIn(cluster, node).start();
    config =
        new KubeRuntimeConfig(
            node,
            ns,
            "juicedata/mount:test",
            "",
            "",
            Duration.ofSeconds(20),
            Duration.ofSeconds(2),
            dir.resolve("mnt"));
  }

  @AfterEach
  void tearDown() {
    runtimes.forEach(KubeMountRuntime::close);
    if (kubelet != null) {
      kubelet.close();
    }
    if (api != null) {
      api.close();
    }
  }

  private KubeMountRuntime runtime() {
    KubeMountRuntime rt =
        new KubeMountRuntime(
            config, api, new LinuxMounter(), counter, Duration.ofSeconds(1), false);
    runtimes.add(rt);
    await().atMost(Duration.ofSeconds(20)).until(rt::ready);
    return rt;
  }

  private VolumeSettings volume(String id, Map<String, String> context) {
    return SettingsParser.parse(
        new VolumeSource(
            id, Map.of("name", "fs1", "metaurl", "local://" + data), context, List.of()));
  }

  private static ClientKey key(VolumeSettings s) {
    return new ClientKey(s.volumeId(), s.clientHash());
  }

  private RunningClient start(
      KubeMountRuntime rt, VolumeSettings s, Optional<RunningClient> previous) throws Exception {
    return rt.start(key(s), s, previous, exits::add)
        .toCompletableFuture()
        .get(60, TimeUnit.SECONDS);
  }

  private Pod pod(String name) {
    return cluster.client().pods().inNamespace(ns).withName(name).get();
  }

  private static void report(String step, Map<String, Long> delta) {
    System.out.println("API requests, " + step + ": " + delta);
  }

  @Test
  void aClientRunsInAMountPodWhoseAnnotationsAreItsRecord() throws Exception {
    KubeMountRuntime rt = runtime();
    VolumeSettings s = volume("pv-a", Map.of("juicefs/mount-delete-delay", "5s"));
    var before = counter.snapshot();
    RunningClient c = start(rt, s, Optional.empty());
    report("start (Secret, pod, no read)", RequestCounter.since(before, counter.snapshot()));
    assertThat(RequestCounter.since(before, counter.snapshot()))
        .containsOnlyKeys("POST secrets", "POST pods");
    Files.writeString(c.mountPath().resolve("f.txt"), "via the pod");
    assertThat(Files.readString(data.resolve("f.txt"))).isEqualTo("via the pod");

    Pod p = pod(c.handle());
    assertThat(Serialization.asYaml(p))
        .doesNotContain("local://")
        .doesNotContain(data.toString())
        .doesNotContain("fs1");
    assertThat(p.getMetadata().getLabels()).containsEntry("volume-id", "pv-a");

    // The actor records each change as it makes it: one PATCH each, nothing compared.
    Optional<RunningClient> on = Optional.of(c);
    before = counter.snapshot();
    rt.record(new RecordChange.TargetAdded(key(s), on, T1, false));
    report("first reference", RequestCounter.since(before, counter.snapshot()));
    assertThat(RequestCounter.since(before, counter.snapshot()))
        .containsExactly(Map.entry("PATCH pods", 1L));
    before = counter.snapshot();
    rt.record(new RecordChange.TargetAdded(key(s), on, T2, true));
    report("another reference", RequestCounter.since(before, counter.snapshot()));
    assertThat(RequestCounter.since(before, counter.snapshot()))
        .containsExactly(Map.entry("PATCH pods", 1L));
    before = counter.snapshot();
    rt.record(new RecordChange.TargetAdded(key(s), on, T2, true));
    assertThat(RequestCounter.since(before, counter.snapshot()))
        .as("a change the pod shows already")
        .isEmpty();
    Instant at = Instant.now().plusSeconds(5);
    before = counter.snapshot();
    rt.record(new RecordChange.TargetRemoved(key(s), on, T1));
    rt.record(new RecordChange.TargetRemoved(key(s), on, T2));
    rt.record(new RecordChange.DeleteAtChanged(key(s), on, Optional.of(at)));
    report(
        "last references released (delayed exit recorded)",
        RequestCounter.since(before, counter.snapshot()));
    assertThat(RequestCounter.since(before, counter.snapshot()))
        .containsExactly(Map.entry("PATCH pods", 3L));
    assertThat(PodReferences.deleteAt(pod(c.handle()).getMetadata().getAnnotations()))
        .contains(at.truncatedTo(ChronoUnit.SECONDS));
    rt.record(new RecordChange.TargetAdded(key(s), on, T2, true));
    rt.record(new RecordChange.DeleteAtChanged(key(s), on, Optional.empty()));

    p = pod(c.handle());
    assertThat(PodReferences.targets(p.getMetadata().getAnnotations())).containsExactly(T2);
    assertThat(p.getMetadata().getAnnotations())
        .containsEntry(MountPodNames.referenceKey(T2), T2)
        .doesNotContainKey("juicefs-delete-at")
        .containsEntry("juicefs-delete-delay", "5s");

    // A restarted driver reads it all back: one Secret read, then adoption without a new pod.
    KubeMountRuntime again = runtime();
    before = counter.snapshot();
    List<ClientRecord> records = again.load();
    report("load after a driver restart", RequestCounter.since(before, counter.snapshot()));
    assertThat(records)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.key()).isEqualTo(key(s));
              assertThat(r.source()).isEqualTo(s.source());
              assertThat(r.targets()).containsExactly(T2);
              assertThat(r.readOnlyTargets()).containsExactly(T2);
              assertThat(r.running().orElseThrow().handle()).isEqualTo(c.handle());
              assertThat(r.running().orElseThrow().mountPath()).isEqualTo(c.mountPath());
            });
    before = counter.snapshot();
    RunningClient adopted = start(again, s, records.getFirst().running());
    assertThat(adopted.handle()).isEqualTo(c.handle());
    assertThat(RequestCounter.since(before, counter.snapshot())).as("adoption").isEmpty();

    before = counter.snapshot();
    again.stop(adopted).toCompletableFuture().join();
    report("stop (pod and Secret deleted)", RequestCounter.since(before, counter.snapshot()));
    await().atMost(Duration.ofSeconds(10)).until(() -> pod(c.handle()) == null);
    assertThat(cluster.client().secrets().inNamespace(ns).list().getItems())
        .noneMatch(x -> x.getMetadata().getName().startsWith("jfs-csi-"));
    assertThat(c.mountPath()).doesNotExist();
  }

  @Test
  void aDeletedPodIsReportedAndReplacedWithItsReferences() throws Exception {
    KubeMountRuntime rt = runtime();
    VolumeSettings s = volume("pv-b", Map.of());
    RunningClient c = start(rt, s, Optional.empty());
    rt.save(new ClientRecord(key(s), s.source(), Set.of(T1, T2), Optional.empty(), Optional.of(c)));

    cluster.client().pods().inNamespace(ns).withName(c.handle()).delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
    assertThat(exits.getFirst().client().handle()).isEqualTo(c.handle());
    assertThat(exits.getFirst().reason()).contains("deleted");

    RunningClient next = start(rt, s, Optional.empty());
    assertThat(next.handle()).isNotEqualTo(c.handle());
    assertThat(next.mountPath()).isNotEqualTo(c.mountPath());
    assertThat(PodReferences.targets(pod(next.handle()).getMetadata().getAnnotations()))
        .containsExactlyInAnyOrder(T1, T2);
    // The replaced pod goes in the background once its replacement serves.
    await()
        .atMost(Duration.ofSeconds(30))
        .untilAsserted(
            () -> assertThat(pod(c.handle())).as("the old pod, its finalizer removed").isNull());
    assertThat(exits).hasSize(1);
    rt.stop(next).toCompletableFuture().join();
  }

  @Test
  void aPodBeingDeletedTakesNoNewReference() throws Exception {
    KubeMountRuntime rt = runtime();
    VolumeSettings s = volume("pv-c", Map.of());
    RunningClient c = start(rt, s, Optional.empty());
    rt.save(new ClientRecord(key(s), s.source(), Set.of(T1), Optional.empty(), Optional.of(c)));
    cluster.client().pods().inNamespace(ns).withName(c.handle()).delete();
    await().atMost(Duration.ofSeconds(10)).until(() -> !exits.isEmpty());
    Assertions.assertThatThrownBy(
            () ->
                rt.save(
                    new ClientRecord(
                        key(s), s.source(), Set.of(T1, T2), Optional.empty(), Optional.of(c))))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("being deleted");
    rt.stop(c).toCompletableFuture().join();
  }

  /**
   * A forced 409: another writer changes the Mount Pod after the informer's copy was read and
   * before the runtime's patch reaches the API server (an interceptor on the runtime's client does
   * that write, so the conflict always happens). The reference is still recorded, next to the other
   * writer's change.
   */
  @Test
  void aConflictingWriteBetweenTheCopyAndThePatchIsRetried() throws Exception {
    AtomicBoolean armed = new AtomicBoolean();
    AtomicInteger conflicts = new AtomicInteger();
    KubernetesClient other = cluster.client();
    Interceptor bump =
        new Interceptor() {
          @Override
          public void before(BasicBuilder b, HttpRequest request, RequestTags tags) {
            String path = request.uri().getPath();
            if ("PATCH".equals(request.method())
                && path.contains("/pods/")
                && armed.compareAndSet(true, false)) {
              String name = path.substring(path.lastIndexOf('/') + 1);
              other
                  .pods()
                  .inNamespace(ns)
                  .withName(name)
                  .edit(
                      p ->
                          new PodBuilder(p)
                              .editMetadata()
                              .addToAnnotations("other-writer", "was-here")
                              .endMetadata()
                              .build());
              conflicts.incrementAndGet();
            }
          }
        };
    KubernetesClient racing =
        new KubernetesClientBuilder()
            .withConfig(cluster.config())
            .withHttpClientBuilderConsumer(
                b ->
                    b.addOrReplaceInterceptor("count", counter)
                        .addOrReplaceInterceptor("bump", bump))
            .build();
    try {
      KubeMountRuntime rt =
          new KubeMountRuntime(
              config, racing, new LinuxMounter(), counter, Duration.ofSeconds(1), false);
      runtimes.add(rt);
      await().atMost(Duration.ofSeconds(20)).until(rt::ready);
      VolumeSettings s = volume("pv-409", Map.of());
      RunningClient c = start(rt, s, Optional.empty());
      rt.save(new ClientRecord(key(s), s.source(), Set.of(T1), Optional.empty(), Optional.of(c)));
      Map<String, Long> before = counter.snapshot();
      armed.set(true);
      rt.save(
          new ClientRecord(key(s), s.source(), Set.of(T1, T2), Optional.empty(), Optional.of(c)));
      Map<String, Long> delta = RequestCounter.since(before, counter.snapshot());
      report("a reference whose patch meets a conflict", delta);
      assertThat(conflicts).hasValue(1);
      assertThat(delta.get("PATCH pods")).as("the conflicting patch and its retry").isEqualTo(2L);
      Pod now = pod(c.handle());
      assertThat(PodReferences.targets(now.getMetadata().getAnnotations()))
          .containsExactlyInAnyOrder(T1, T2);
      assertThat(now.getMetadata().getAnnotations()).containsEntry("other-writer", "was-here");
      rt.save(new ClientRecord(key(s), s.source(), Set.of(), Optional.empty(), Optional.of(c)));
      rt.stop(c).toCompletableFuture().join();
    } finally {
      runtimes.forEach(KubeMountRuntime::close);
      runtimes.clear();
      racing.close();
    }
  }

  @Test
  void aGoDriverMountPodIsAdoptedAndReleased() throws Exception {
    Path mnt = Files.createDirectories(dir.resolve("mnt"));
    Path mp = mnt.resolve("pv-go-qwerty");
    String secret = "juicefs-pv-go-secret";
    cluster
        .client()
        .secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(secret)
                .endMetadata()
                .addToStringData("metaurl", "local://" + data)
                .addToStringData(
                    "jfsSettings",
                    "{\"name\":\"fs1\",\"metaurl\":\"local://"
                        + data
                        + "\",\"Options\":[],\"deleted_delay\":\"\",\"clean_cache\":false}")
                .build())
        .create();
    String name = "juicefs-" + node + "-pv-go-qwerty";
    cluster
        .client()
        .pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels("app.kubernetes.io/name", "juicefs-mount")
                .addToLabels("volume-id", "pv-go")
                .addToLabels("juicefs-hash", "0123abcd")
                .addToAnnotations(MountPodNames.referenceKey(T1), T1)
                .addToAnnotations("juicefs-uniqueid", "pv-go")
                .addToFinalizers("juicefs.com/finalizer")
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .addNewContainer()
                .withName("jfs-mount")
                .withImage("juicedata/mount:ce-v1.2.0")
                // The Go driver's command and env; jfs-dir at the host path (not /jfs), because the
                // kubelet stand-in runs containers on the host.
                .withCommand(
                    "sh",
                    "-c",
                    "/usr/local/bin/juicefs format ${metaurl} fs1 && exec "
                        + "/bin/mount.juicefs ${metaurl} "
                        + mp
                        + " -o metrics=0.0.0.0:9567")
                .addNewEnv()
                .withName("metaurl")
                .withNewValueFrom()
                .withNewSecretKeyRef()
                .withName(secret)
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
                .withMountPath(mnt.toString())
                .withMountPropagation("Bidirectional")
                .endVolumeMount()
                .withNewSecurityContext()
                .withPrivileged(true)
                .endSecurityContext()
                .endContainer()
                .addNewVolume()
                .withName("jfs-dir")
                .withNewHostPath()
                .withPath(mnt.toString())
                .endHostPath()
                .endVolume()
                .endSpec()
                .build())
        .create();
    await()
        .atMost(Duration.ofSeconds(10))
        .until(
            () ->
                pod(name).getStatus() != null
                    && "Running".equals(pod(name).getStatus().getPhase()));

    KubeMountRuntime rt = runtime();
    List<ClientRecord> records = rt.load();
    assertThat(records)
        .singleElement()
        .satisfies(
            r -> {
              assertThat(r.key().volumeId()).isEqualTo("pv-go");
              assertThat(r.targets()).containsExactly(T1);
              assertThat(r.running().orElseThrow().mountPath()).isEqualTo(mp);
            });
    ClientRecord r = records.getFirst();
    VolumeSettings s = SettingsParser.parse(r.source());
    RunningClient adopted =
        rt.start(r.key(), s, r.running(), exits::add)
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
    assertThat(adopted.handle()).isEqualTo(name);
    rt.save(
        new ClientRecord(
            r.key(), r.source(), Set.of(T1, T2), Optional.empty(), Optional.of(adopted)));
    assertThat(PodReferences.targets(pod(name).getMetadata().getAnnotations()))
        .containsExactlyInAnyOrder(T1, T2);
    rt.save(
        new ClientRecord(r.key(), r.source(), Set.of(), Optional.empty(), Optional.of(adopted)));
    rt.stop(adopted).toCompletableFuture().join();
    await().atMost(Duration.ofSeconds(10)).until(() -> pod(name) == null);
    assertThat(cluster.client().secrets().inNamespace(ns).withName(secret).get())
        .as("the Go driver's Secret belongs to its PV")
        .isNotNull();
  }

  @Test
  void theCacheIsCleanedByAJobOnTheNode() throws Exception {
    String uuid = "6f1c3c1e-58a2-4b3e-9f4e-2d1c1a0b9e77";
    Files.writeString(data.resolve(".config"), "{\"Meta\": {\"UUID\": \"" + uuid + "\"}}");
    KubeMountRuntime rt = runtime();
    Path cache = dir.resolve("cache");
    VolumeSettings s =
        SettingsParser.parse(
            new VolumeSource(
                "pv-d",
                Map.of("name", "fs1", "metaurl", "local://" + data),
                Map.of("juicefs/clean-cache", "true"),
                List.of("cache-dir=" + cache)));
    RunningClient c = start(rt, s, Optional.empty());
    rt.save(new ClientRecord(key(s), s.source(), Set.of(T1), Optional.empty(), Optional.of(c)));
    assertThat(pod(c.handle()).getMetadata().getAnnotations())
        .containsEntry("juicefs-uuid", uuid)
        .containsEntry("juicefs-clean-cache", "true");
    rt.stop(c).toCompletableFuture().join();
    rt.cleanCache(s).toCompletableFuture().join();
    List<Job> jobs = cluster.client().batch().v1().jobs().inNamespace(ns).list().getItems();
    assertThat(jobs)
        .singleElement()
        .satisfies(
            j -> {
              var spec = j.getSpec().getTemplate().getSpec();
              assertThat(spec.getNodeName()).isEqualTo(node);
              assertThat(spec.getContainers().getFirst().getCommand())
                  .containsExactly("sh", "-c", "rm -rf " + cache.resolve(uuid));
              assertThat(spec.getVolumes())
                  .singleElement()
                  .satisfies(
                      v -> assertThat(v.getHostPath().getPath()).isEqualTo(cache.toString()));
            });
  }
}

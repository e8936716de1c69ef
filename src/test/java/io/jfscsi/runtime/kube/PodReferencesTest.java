package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSource;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

class PodReferencesTest {
  static final ClientKey KEY = new ClientKey("pv-1", "abc");
  static final VolumeSource SOURCE =
      new VolumeSource(
          "pv-1",
          Map.of("name", "x", "metaurl", "redis://h"),
          Map.of("juicefs/mount-delete-delay", "30s"),
          List.of("cache-size=10"));
  static final String T1 = "/var/lib/kubelet/pods/u1/volumes/kubernetes.io~csi/pv-1/mount";
  static final String T2 = "/var/lib/kubelet/pods/u2/volumes/kubernetes.io~csi/pv-1/mount";

  static ClientRecord record(Set<String> targets, Set<String> ro, Optional<Instant> at) {
    return new ClientRecord(KEY, SOURCE, targets, ro, at, Optional.empty());
  }

  @Test
  void aChangeIsPatchedAsTheWholeRecordItMakesWouldBe() {
    ClientRecord r =
        record(Set.of(T1, T2), Set.of(T2), Optional.of(Instant.parse("2026-12-01T10:00:00.5Z")));
    String t3 = "/var/lib/kubelet/pods/u3/volumes/kubernetes.io~csi/pv-1/mount";
    List<RecordChange> changes =
        List.of(
            new RecordChange.TargetAdded(KEY, Optional.empty(), t3, false),
            new RecordChange.TargetAdded(KEY, Optional.empty(), t3, true),
            new RecordChange.TargetRemoved(KEY, Optional.empty(), T2),
            new RecordChange.TargetRemoved(KEY, Optional.empty(), T1),
            new RecordChange.DeleteAtChanged(KEY, Optional.empty(), Optional.empty()),
            new RecordChange.DeleteAtChanged(
                KEY, Optional.empty(), Optional.of(Instant.parse("2026-12-02T00:00:00Z"))));
    for (RecordChange change : changes) {
      Map<String, String> current = PodReferences.of(r);
      assertThat(PodReferences.patch(current, change))
          .as(change.toString())
          .isNotEmpty()
          .isEqualTo(PodReferences.diff(current, change.applyTo(r)));
    }
  }

  @Test
  void aChangeThePodShowsAlreadyPatchesNothing() {
    ClientRecord r = record(Set.of(T1, T2), Set.of(T2), Optional.empty());
    Map<String, String> current = PodReferences.of(r);
    assertThat(
            PodReferences.patch(
                current, new RecordChange.TargetAdded(KEY, Optional.empty(), T2, true)))
        .isEmpty();
    assertThat(
            PodReferences.patch(
                current,
                new RecordChange.TargetRemoved(
                    KEY, Optional.empty(), "/var/lib/kubelet/pods/gone/mount")))
        .isEmpty();
    assertThat(
            PodReferences.patch(
                current, new RecordChange.DeleteAtChanged(KEY, Optional.empty(), Optional.empty())))
        .isEmpty();
  }

  @Test
  void aRecordRoundTripsThroughAnnotations() {
    Instant at = Instant.parse("2030-01-02T03:04:05Z");
    ClientRecord r = record(Set.of(T1, T2), Set.of(T2), Optional.of(at));
    Map<String, String> a = new HashMap<>(PodReferences.of(r));
    a.put("unrelated", "kept");
    assertThat(a)
        .containsEntry(MountPodNames.referenceKey(T1), T1)
        .containsEntry("juicefs-delete-at", "2030-01-02T03:04:05Z");
    assertThat(PodReferences.targets(a)).containsExactlyInAnyOrder(T1, T2);
    assertThat(PodReferences.readOnly(a)).containsExactly(T2);
    assertThat(PodReferences.deleteAt(a)).contains(at);
    assertThat(PodReferences.diff(a, r)).isEmpty();
  }

  @Test
  void inAShareModeTheVolumeOfEachTargetOfAnotherVolumeIsAnnotatedAndPatchedAsTheRecordSays() {
    String b1 = "/var/lib/kubelet/pods/u3/volumes/kubernetes.io~csi/pv-2/mount";
    TargetVolume b = new TargetVolume("pv-2", "dirs/pv-2");
    ClientRecord r =
        new ClientRecord(
            KEY,
            SOURCE,
            Set.of(T1, b1),
            Set.of(),
            Map.of(b1, b),
            Optional.empty(),
            Optional.empty());
    Map<String, String> a = PodReferences.of(r);
    assertThat(PodReferences.sharedTargets(a)).isEqualTo(Map.of(b1, b));
    assertThat(PodReferences.diff(a, r)).isEmpty();
    String b2 = "/var/lib/kubelet/pods/u4/volumes/kubernetes.io~csi/pv-2/mount";
    List<RecordChange> changes =
        List.of(
            new RecordChange.TargetAdded(KEY, Optional.empty(), b2, true, Optional.of(b)),
            new RecordChange.TargetRemoved(KEY, Optional.empty(), b1),
            new RecordChange.TargetAdded(KEY, Optional.empty(), b1, false));
    for (RecordChange change : changes) {
      Map<String, String> current = PodReferences.of(r);
      assertThat(PodReferences.patch(current, change))
          .as(change.toString())
          .isEqualTo(PodReferences.diff(current, change.applyTo(r)));
      r = change.applyTo(r);
      assertThat(PodReferences.sharedTargets(PodReferences.of(r))).isEqualTo(r.sharedTargets());
    }
    assertThat(r.sharedTargets()).isEqualTo(Map.of(b2, b));
    // A damaged annotation reads as no shared targets (each then shows the source's volume).
    assertThat(PodReferences.sharedTargets(Map.of(MountPodNames.TARGET_VOLUMES, "{not json")))
        .isEmpty();
  }

  @Test
  void theDiffAddsAndRemovesOnlyWhatChanged() {
    Map<String, String> current =
        new HashMap<>(
            PodReferences.of(
                record(Set.of(T1), Set.of(), Optional.of(Instant.parse("2030-01-01T00:00:00Z")))));
    current.put("juicefs-delete-delay", "30s");
    current.put(MountPodNames.SOURCE, "{}");
    Map<String, String> patch =
        PodReferences.diff(current, record(Set.of(T2), Set.of(), Optional.empty()));
    assertThat(patch)
        .containsEntry(MountPodNames.referenceKey(T2), T2)
        .containsEntry(MountPodNames.referenceKey(T1), null)
        .containsEntry("juicefs-delete-at", null)
        .hasSize(3);
    assertThat(PodReferences.addsReference(current, patch)).isTrue();
    Map<String, String> removal =
        PodReferences.diff(
            current,
            record(Set.of(), Set.of(), Optional.of(Instant.parse("2030-01-01T00:00:00Z"))));
    assertThat(removal).containsOnlyKeys(MountPodNames.referenceKey(T1));
    assertThat(PodReferences.addsReference(current, removal)).isFalse();
  }

  @Test
  void aForeignAnnotationThatLooksLikeAReferenceIsNotOne() {
    Map<String, String> a = Map.of("juicefs-" + "0".repeat(55), "/somewhere");
    assertThat(PodReferences.targets(a)).isEmpty();
  }

  @Test
  void podSourceRoundTrips() {
    PodSource s = PodSource.of(SOURCE, "jfs-csi-sec");
    PodSource back = PodSource.parse(s.toJson()).orElseThrow();
    assertThat(back).isEqualTo(s);
    assertThat(back.withSecrets(SOURCE.secrets())).isEqualTo(SOURCE);
    assertThat(s.toJson()).doesNotContain("redis://h");
  }

  @Test
  void podSourceLeavesOutTheAppPodsOwnKeys() {
    Map<String, String> context = new HashMap<>(SOURCE.context());
    context.put("csi.storage.k8s.io/pod.name", "app-1");
    context.put("csi.storage.k8s.io/pod.uid", "u1");
    PodSource s =
        PodSource.of(
            new VolumeSource("pv-1", SOURCE.secrets(), context, SOURCE.mountFlags()),
            "jfs-csi-sec");
    assertThat(s.context()).isEqualTo(SOURCE.context());
  }

  @Test
  void goDriverPodsAreReadBack() {
    Pod pod =
        new PodBuilder()
            .withNewMetadata()
            .withName("juicefs-n1-pv-9-abcdef")
            .addToLabels("app.kubernetes.io/name", "juicefs-mount")
            .addToLabels("volume-id", "pv-9")
            .addToAnnotations(MountPodNames.referenceKey(T1), T1)
            .addToAnnotations("juicefs-uniqueid", "pv-9")
            .endMetadata()
            .withNewSpec()
            .addNewContainer()
            .withName("jfs-mount")
            .withCommand(
                "sh",
                "-c",
                "/usr/local/bin/juicefs format --storage=s3 ${metaurl} vol9 && "
                    + "exec /bin/mount.juicefs ${metaurl} /jfs/pv-9-abcdef -o metrics=0.0.0.0:9567")
            .addNewEnv()
            .withName("metaurl")
            .withNewValueFrom()
            .withNewSecretKeyRef()
            .withName("juicefs-pv-9-secret")
            .withKey("metaurl")
            .endSecretKeyRef()
            .endValueFrom()
            .endEnv()
            .addNewVolumeMount()
            .withName("jfs-dir")
            .withMountPath("/jfs")
            .withMountPropagation("Bidirectional")
            .endVolumeMount()
            .endContainer()
            .addNewVolume()
            .withName("jfs-dir")
            .withNewHostPath()
            .withPath("/var/lib/juicefs/volume")
            .endHostPath()
            .endVolume()
            .endSpec()
            .build();
    assertThat(GoMountPods.isGoPod(pod)).isTrue();
    assertThat(GoMountPods.secretName(pod)).contains("juicefs-pv-9-secret");
    assertThat(GoMountPods.mountPath(pod)).contains(Path.of("/var/lib/juicefs/volume/pv-9-abcdef"));
    var secret =
        new SecretBuilder()
            .withNewMetadata()
            .withName("juicefs-pv-9-secret")
            .endMetadata()
            .addToData("metaurl", b64("redis://:pw@r:6379/2"))
            .addToData("secretkey", b64("sk"))
            .addToData(
                "jfsSettings",
                b64(
                    "{\"name\":\"vol9\",\"metaurl\":\"redis://:pw@r:6379/2\","
                        + "\"storage\":\"s3\",\"envs_map\":{\"A\":\"b\"},\"deleted_delay\":\"1m\","
                        + "\"clean_cache\":true,\"Options\":[\"cache-size=5\"]}"))
            .build();
    VolumeSource src = GoMountPods.source(pod, secret).orElseThrow();
    assertThat(src.volumeId()).isEqualTo("pv-9");
    assertThat(src.secrets())
        .containsEntry("name", "vol9")
        .containsEntry("metaurl", "redis://:pw@r:6379/2")
        .containsEntry("storage", "s3")
        .containsEntry("secret-key", "sk")
        .containsKey("envs");
    assertThat(src.context())
        .containsEntry("juicefs/mount-delete-delay", "1m")
        .containsEntry("juicefs/clean-cache", "true");
    assertThat(src.mountFlags()).containsExactly("cache-size=5");
    SettingsParser.parse(src); // parses
  }

  @Test
  void requestsAreCountedByMethodAndResource() {
    var counter = new RequestCounter();
    assertThat(
            RequestCounter.describe("PATCH", URI.create("https://h/api/v1/namespaces/ns/pods/p1")))
        .isEqualTo("PATCH pods");
    assertThat(
            RequestCounter.describe(
                "GET", URI.create("https://h/api/v1/namespaces/ns/pods" + "?" + "watch=true&x=1")))
        .isEqualTo("WATCH pods");
    assertThat(
            RequestCounter.describe(
                "GET", URI.create("https://h/api/v1/pods" + "?" + "fieldSelector=x")))
        .isEqualTo("GET pods");
    assertThat(
            RequestCounter.describe(
                "POST", URI.create("https://h/apis/batch/v1/namespaces/ns/jobs")))
        .isEqualTo("POST jobs");
    assertThat(
            RequestCounter.describe("GET", URI.create("https://h/api/v1/namespaces/ns/pods/p/log")))
        .isEqualTo("GET pods/log");
    assertThat(RequestCounter.since(Map.of("a", 1L), Map.of("a", 3L, "b", 0L)))
        .containsExactly(Map.entry("a", 2L));
    assertThat(counter.snapshot()).isEmpty();
  }

  private static String request(String method, String path, String query) {
    return method + " " + path + (query == null ? "" : "?" + query);
  }

  private static String b64(String s) {
    return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
  }
}

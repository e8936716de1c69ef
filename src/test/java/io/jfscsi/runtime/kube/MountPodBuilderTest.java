package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.client.utils.Serialization;
import io.jfscsi.client.ClientKey;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MountPodBuilderTest {

  static final String META_PASSWORD = "m3ta-Pa55'word$(x)";
  static final String ACCESS_KEY = "AKIA-ACC-1234";
  static final String SECRET_KEY = "sk/Secret+Val'ue$HOME";
  static final String ENV_VALUE = "env-secret-7781";
  static final String TRASH = "7";
  static final String SESSION_TOKEN = "IQoJb3JpZ2luX2Vj-token'$(x)";

  static final KubeRuntimeConfig CONFIG =
      new KubeRuntimeConfig(
          "node-a",
          "jfs",
          "img:default",
          "system-node-critical",
          "",
          Duration.ofSeconds(60),
          Duration.ofSeconds(10),
          Path.of("/var/lib/juicefs/volume"));

  static VolumeSource source(Map<String, String> context, List<String> flags) {
    Map<String, String> secrets = new HashMap<>();
    secrets.put("name", "myjfs");
    secrets.put("metaurl", "redis://:" + META_PASSWORD + "@redis:6379/1");
    secrets.put("storage", "s3");
    secrets.put("bucket", "https://bucket.example/b1");
    secrets.put("access-key", ACCESS_KEY);
    secrets.put("secret-key", SECRET_KEY);
    secrets.put(
        "format-options", "trash-days=" + TRASH + ",hash-prefix,session-token=" + SESSION_TOKEN);
    secrets.put("envs", "{\"MY_TOKEN\": \"" + ENV_VALUE + "\"}");
    secrets.put("configs", "{\"extra-secret\": \"/etc/extra\"}");
    return new VolumeSource("pv-1", secrets, context, flags);
  }

  static Pod build(VolumeSettings s) {
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    MountPodSecret secret = MountPodSecret.of(MountPodNames.secretName(CONFIG.nodeName(), key), s);
    return MountPodBuilder.build(
        CONFIG,
        new MountPodBuilder.Identity(
            key,
            MountPodNames.podName("node-a", s.volumeId(), "abcdef"),
            MountPodNames.mountPath(CONFIG.mountRoot(), key, "abcdef")),
        s,
        secret);
  }

  @Test
  void noSecretValueIsInThePodSpec() {
    VolumeSettings s = SettingsParser.parse(source(Map.of(), List.of("cache-size=100")));
    String yaml = Serialization.asYaml(build(s));
    for (String secret :
        List.of(
            META_PASSWORD,
            "redis://",
            ACCESS_KEY,
            SECRET_KEY,
            SESSION_TOKEN,
            ENV_VALUE,
            "bucket.example",
            "myjfs")) {
      assertThat(yaml).doesNotContain(secret);
    }
    Container c = build(s).getSpec().getContainers().getFirst();
    assertThat(c.getEnv())
        .filteredOn(e -> e.getValueFrom() != null)
        .allSatisfy(
            e ->
                assertThat(e.getValueFrom().getSecretKeyRef().getName())
                    .startsWith("jfs-csi-node-a-pv-1-"));
    assertThat(c.getEnv())
        .extracting(EnvVar::getName)
        .contains(
            "metaurl",
            "name",
            "ACCESS_KEY",
            "SECRET_KEY",
            "SESSION_TOKEN",
            "MY_TOKEN",
            "JFS_FOREGROUND");
  }

  @Test
  void theShapeOfAMountPod() {
    VolumeSettings s =
        SettingsParser.parse(
            source(
                Map.of(
                    "juicefs/mount-image",
                    "img:mine",
                    "juicefs/mount-cpu-limit",
                    "2",
                    "juicefs/mount-memory-request",
                    "512Mi",
                    "juicefs/mount-delete-delay",
                    "1m30s",
                    "juicefs/clean-cache",
                    "true"),
                List.of("cache-dir=/data/c1:/data/c2")));
    Pod pod = build(s);
    assertThat(pod.getMetadata().getName()).isEqualTo("juicefs-node-a-pv-1-abcdef");
    assertThat(pod.getMetadata().getNamespace()).isEqualTo("jfs");
    assertThat(pod.getMetadata().getLabels())
        .containsEntry("app.kubernetes.io/name", "juicefs-mount")
        .containsEntry("volume-id", "pv-1")
        .containsEntry("juicefs-hash", s.clientHash().substring(0, 63));
    assertThat(pod.getMetadata().getAnnotations())
        .containsEntry("juicefs-delete-delay", "1m30s")
        .containsEntry("juicefs-clean-cache", "true")
        .containsEntry("juicefs-uniqueid", "pv-1")
        .containsEntry(MountPodNames.MOUNT_PATH, "/var/lib/juicefs/volume/pv-1-abcdef");
    assertThat(pod.getMetadata().getFinalizers()).containsExactly("juicefs.com/finalizer");
    assertThat(pod.getMetadata().getOwnerReferences()).isNullOrEmpty();
    var spec = pod.getSpec();
    assertThat(spec.getNodeName()).isEqualTo("node-a");
    assertThat(spec.getRestartPolicy()).isEqualTo("Always");
    assertThat(spec.getPriorityClassName()).isEqualTo("system-node-critical");
    assertThat(spec.getTerminationGracePeriodSeconds()).isEqualTo(10L);
    Container c = spec.getContainers().getFirst();
    assertThat(c.getName()).isEqualTo("jfs-mount");
    assertThat(c.getImage()).isEqualTo("img:mine");
    assertThat(c.getSecurityContext().getPrivileged()).isTrue();
    assertThat(c.getTerminationMessagePolicy()).isEqualTo("FallbackToLogsOnError");
    assertThat(c.getPorts())
        .singleElement()
        .satisfies(
            p -> {
              assertThat(p.getName()).isEqualTo("metrics");
              assertThat(p.getContainerPort()).isEqualTo(9567);
            });
    assertThat(c.getResources().getLimits().get("cpu").toString()).isEqualTo("2000m");
    assertThat(c.getResources().getRequests().get("memory").getNumericalAmount().longValue())
        .isEqualTo(512L << 20);
    assertThat(c.getCommand().subList(0, 2)).containsExactly("sh", "-c");
    String script = c.getCommand().get(2);
    assertThat(script)
        .startsWith("juicefs format ")
        .contains(" && exec juicefs mount ")
        .contains("\"${metaurl}\"")
        .contains("--metrics=0.0.0.0:9567")
        .doesNotContain("/bin/mount.juicefs");
    // Every hostPath at the same path inside; the mount root with Bidirectional propagation.
    Map<String, String> hostPaths = new HashMap<>();
    for (Volume v : spec.getVolumes()) {
      if (v.getHostPath() != null) {
        hostPaths.put(v.getName(), v.getHostPath().getPath());
      }
    }
    assertThat(hostPaths)
        .containsValues("/var/lib/juicefs/volume", "/data/c1", "/data/c2")
        .doesNotContainValue("/var/jfsCache");
    c.getVolumeMounts()
        .forEach(
            m -> {
              if (hostPaths.containsKey(m.getName())) {
                assertThat(m.getMountPath()).isEqualTo(hostPaths.get(m.getName()));
              }
            });
    assertThat(c.getVolumeMounts())
        .filteredOn(m -> m.getName().equals("jfs-dir"))
        .singleElement()
        .satisfies(m -> assertThat(m.getMountPropagation()).isEqualTo("Bidirectional"));
    assertThat(spec.getVolumes())
        .anySatisfy(
            v -> {
              assertThat(v.getSecret()).isNotNull();
              assertThat(v.getSecret().getSecretName()).isEqualTo("extra-secret");
            });
    assertThat(c.getVolumeMounts())
        .anySatisfy(m -> assertThat(m.getMountPath()).isEqualTo("/etc/extra"));
  }

  @Test
  void defaultsCacheOnVarJfsCacheAndGoResources() {
    VolumeSettings s = SettingsParser.parse(source(Map.of(), List.of()));
    Pod pod = build(s);
    assertThat(pod.getSpec().getVolumes())
        .anySatisfy(
            v -> {
              assertThat(v.getHostPath()).isNotNull();
              assertThat(v.getHostPath().getPath()).isEqualTo("/var/jfsCache");
              assertThat(v.getHostPath().getType()).isEqualTo("DirectoryOrCreate");
            });
    Container c = pod.getSpec().getContainers().getFirst();
    assertThat(c.getImage()).isEqualTo("img:default");
    assertThat(c.getResources().getRequests().get("cpu").toString()).isEqualTo("1000m");
    assertThat(c.getResources().getLimits().get("memory").getNumericalAmount().longValue())
        .isEqualTo(5L << 30);
    assertThat(pod.getMetadata().getAnnotations())
        .doesNotContainKeys("juicefs-delete-delay", "juicefs-clean-cache");
  }

  @Test
  void aZeroValueMeansNoRequestOrLimitNotTheDefaults() {
    VolumeSettings s =
        SettingsParser.parse(
            source(
                Map.of(
                    "juicefs/mount-cpu-limit",
                    "0",
                    "juicefs/mount-cpu-request",
                    "250m",
                    "juicefs/mount-memory-limit",
                    "0"),
                List.of()));
    Container c = build(s).getSpec().getContainers().getFirst();
    assertThat(c.getResources().getRequests()).containsOnlyKeys("cpu");
    assertThat(c.getResources().getRequests().get("cpu").toString()).isEqualTo("250m");
    assertThat(c.getResources().getLimits()).isNullOrEmpty();
  }

  @Test
  void aCachePvcReplacesTheHostCache() {
    VolumeSettings s =
        SettingsParser.parse(
            source(Map.of("juicefs/mount-cache-pvc", "cache-a,cache-b"), List.of()));
    Pod pod = build(s);
    assertThat(pod.getSpec().getVolumes())
        .filteredOn(v -> v.getPersistentVolumeClaim() != null)
        .extracting(v -> v.getPersistentVolumeClaim().getClaimName())
        .containsExactly("cache-a", "cache-b");
    assertThat(pod.getSpec().getVolumes())
        .noneSatisfy(
            v -> {
              assertThat(v.getHostPath()).isNotNull();
              assertThat(v.getHostPath().getPath()).isEqualTo("/var/jfsCache");
            });
    assertThat(pod.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("--cache-dir=/var/jfsCache-0:/var/jfsCache-1");
  }

  @Test
  void aLocalMetaurlIsPassedThroughUnchanged() {
    VolumeSource src =
        new VolumeSource(
            "pv-l", Map.of("name", "localfs", "metaurl", "local:///srv/data"), Map.of(), List.of());
    Pod pod = build(SettingsParser.parse(src));
    assertThat(pod.getSpec().getContainers().getFirst().getCommand().get(2))
        .contains("juicefs format --no-update \"${metaurl}\" \"${name}\"");
    ClientKey key = new ClientKey("pv-l", SettingsParser.parse(src).clientHash());
    MountPodSecret secret = MountPodSecret.of("s", SettingsParser.parse(src));
    assertThat(secret.data()).containsEntry("metaurl", "local:///srv/data");
    assertThat(key.volumeId()).isEqualTo("pv-l");
  }

  /**
   * The container command, run by a real shell with the Secret's values in the environment (as
   * kubelet would give them), calls juicefs with exactly the arguments the local runtime uses.
   */
  @Test
  void theShellCommandRebuildsTheExactArgv(@TempDir Path dir) throws Exception {
    VolumeSettings s = SettingsParser.parse(source(Map.of(), List.of("cache-size=100", "ro")));
    ClientKey key = new ClientKey(s.volumeId(), s.clientHash());
    MountPodSecret secret = MountPodSecret.of("sec", s);
    Path mountPath = MountPodNames.mountPath(CONFIG.mountRoot(), key, "abcdef");
    Pod pod =
        MountPodBuilder.build(CONFIG, new MountPodBuilder.Identity(key, "p", mountPath), s, secret);
    Container c = pod.getSpec().getContainers().getFirst();

    Path log = dir.resolve("argv");
    Path shim = dir.resolve("juicefs");
    Files.writeString(
        shim,
        "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\" >> "
            + log
            + "; done\necho '--' >> "
            + log
            + "\n");
    Files.setPosixFilePermissions(shim, PosixFilePermissions.fromString("rwx------"));
    Map<String, String> env = new HashMap<>();
    for (EnvVar e : c.getEnv()) {
      env.put(
          e.getName(),
          e.getValue() != null
              ? e.getValue()
              : secret.data().get(e.getValueFrom().getSecretKeyRef().getKey()));
    }
    env.put("PATH", dir + ":/usr/bin:/bin");
    // kubelet's expansion of a container command: $$ is an escaped $.
    String script = c.getCommand().get(2).replace("$$", "$");
    ProcessBuilder pb = new ProcessBuilder("sh", "-c", script);
    pb.environment().clear();
    pb.environment().putAll(env);
    Process p = pb.inheritIO().start();
    assertThat(p.waitFor()).isZero();

    List<String> options = new ArrayList<>(s.mountOptions());
    options.add("metrics=0.0.0.0:9567");
    VolumeSettings expected =
        new VolumeSettings(
            s.source(),
            s.fsName(),
            s.metaUrl(),
            s.storage(),
            s.bucket(),
            s.accessKey(),
            s.secretKey(),
            s.formatOptions(),
            s.envs(),
            s.configs(),
            List.copyOf(options),
            s.subPath(),
            s.deleteDelay(),
            s.cleanCache(),
            s.cacheDirs(),
            s.resources(),
            s.mountImage(),
            s.cachePvc(),
            s.clientHash());
    List<String> want =
        new ArrayList<>(
            ClientCommand.DEFAULT
                .formatArgs(expected)
                .subList(1, ClientCommand.DEFAULT.formatArgs(expected).size()));
    want.add("--");
    List<String> mount = ClientCommand.DEFAULT.mountArgs(expected, mountPath);
    want.addAll(mount.subList(1, mount.size()));
    want.add("--");
    assertThat(Files.readAllLines(log, StandardCharsets.UTF_8)).containsExactlyElementsOf(want);
    // Secrets reach juicefs through its environment, never its command line.
    assertThat(want)
        .contains("--trash-days=" + TRASH, "redis://@redis:6379/1")
        .noneMatch(
            a ->
                a.contains(SECRET_KEY)
                    || a.contains(ACCESS_KEY)
                    || a.contains(META_PASSWORD)
                    || a.contains(SESSION_TOKEN)
                    || a.contains("session-token"));
    assertThat(env)
        .containsEntry("META_PASSWORD", META_PASSWORD)
        .containsEntry("SECRET_KEY", SECRET_KEY)
        .containsEntry("SESSION_TOKEN", SESSION_TOKEN);
  }

  @Test
  void theSecretsKeysWinOverTheSameNamesInEnvsAsOnTheHost() {
    VolumeSource base = source(Map.of(), List.of());
    Map<String, String> secrets = new HashMap<>(base.secrets());
    secrets.put("envs", "{ACCESS_KEY: from-envs, SESSION_TOKEN: from-envs, TZ: UTC}");
    VolumeSettings s = SettingsParser.parse(new VolumeSource("pv-1", secrets, Map.of(), List.of()));
    MountPodSecret secret = MountPodSecret.of("sec", s);
    // kubelet resolves a container's env in order: the last of two same names wins.
    Map<String, String> resolved = new HashMap<>();
    for (EnvVar e : build(s).getSpec().getContainers().getFirst().getEnv()) {
      resolved.put(
          e.getName(),
          e.getValue() != null
              ? e.getValue()
              : secret.data().get(e.getValueFrom().getSecretKeyRef().getKey()));
    }
    assertThat(resolved)
        .containsEntry("ACCESS_KEY", ACCESS_KEY)
        .containsEntry("SESSION_TOKEN", SESSION_TOKEN)
        .containsEntry("TZ", "UTC");
    assertThat(ClientCommand.environment(s))
        .containsEntry("ACCESS_KEY", ACCESS_KEY)
        .containsEntry("SESSION_TOKEN", SESSION_TOKEN);
  }

  @Test
  void goDurations() {
    assertThat(MountPodBuilder.goDuration(Duration.ofSeconds(30))).isEqualTo("30s");
    assertThat(MountPodBuilder.goDuration(Duration.ofSeconds(60))).isEqualTo("1m0s");
    assertThat(MountPodBuilder.goDuration(Duration.ofSeconds(3723))).isEqualTo("1h2m3s");
    assertThat(MountPodBuilder.goDuration(Duration.ofMillis(1500))).isEqualTo("1.5s");
    assertThat(MountPodBuilder.goDuration(Duration.ofMillis(500))).isEqualTo("500ms");
  }

  @Test
  void shellWordsQuoteEverythingButReferences() {
    assertThat(
            ClientCommand.shellLine(
                List.of(
                    "juicefs",
                    "--x=a b",
                    "it's",
                    "$(HOME)",
                    "",
                    "--k=" + ClientCommand.envRef("V") + "/tail")))
        .isEqualTo("juicefs '--x=a b' 'it'\\''s' '$$(HOME)' '' --k=\"${V}\"/tail");
  }

  @Test
  void theNamedMetricsPortIsTheOneTheClientsOptionSays() {
    assertThat(MountPodBuilder.metricsPort(List.of("metrics=0.0.0.0:9999"))).isEqualTo(9999);
    assertThat(MountPodBuilder.metricsPort(List.of("metrics=[::]:9600", "other"))).isEqualTo(9600);
    assertThat(MountPodBuilder.metricsPort(List.of("metrics=localhost"))).isEqualTo(9567);
    assertThat(MountPodBuilder.metricsPort(List.of())).isEqualTo(9567);
  }
}

package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * Reads a Mount Pod made by the JuiceFS CSI Driver (Go) so that this driver adopts it: which Secret
 * it reads ({@code juicefs-<uniqueId>-secret}), the volume it serves (rebuilt from the Secret's
 * {@code metaurl} and {@code jfsSettings} JSON) and where on the host it mounts (its {@code
 * /jfs/<uniqueId>-<rand>} mount point under the {@code jfs-dir} hostPath).
 */
final class GoMountPods {
  private GoMountPods() {}

  private static final ObjectMapper JSON = new ObjectMapper();

  /** A pod of ours carries {@link MountPodNames#SOURCE}; a Go driver's pod does not. */
  static boolean isGoPod(Pod pod) {
    return !PodReferences.annotations(pod).containsKey(MountPodNames.SOURCE);
  }

  /** The Secret the Go pod reads its metaurl from. */
  static Optional<String> secretName(Pod pod) {
    for (Container c : pod.getSpec().getContainers()) {
      if (c.getEnv() == null) {
        continue;
      }
      for (EnvVar e : c.getEnv()) {
        if (e.getValueFrom() != null
            && e.getValueFrom().getSecretKeyRef() != null
            && ("metaurl".equals(e.getName())
                || "metaurl".equals(e.getValueFrom().getSecretKeyRef().getKey()))) {
          return Optional.of(e.getValueFrom().getSecretKeyRef().getName());
        }
      }
    }
    return Optional.empty();
  }

  /**
   * The host path of the pod's mount point: the first absolute path after the metaurl of its mount
   * command ({@code mount.juicefs META MP -o ...} or {@code juicefs mount [flags] META MP}),
   * translated through the volume mount (a hostPath) that holds it.
   */
  static Optional<Path> mountPath(Pod pod) {
    Container c = pod.getSpec().getContainers().getFirst();
    List<String> words = new ArrayList<>();
    for (String part : c.getCommand() == null ? List.<String>of() : c.getCommand()) {
      words.addAll(List.of(part.trim().split("[\\s;&|]+")));
    }
    for (String part : c.getArgs() == null ? List.<String>of() : c.getArgs()) {
      words.addAll(List.of(part.trim().split("[\\s;&|]+")));
    }
    int mount = -1;
    for (int i = 0; i < words.size(); i++) {
      String w = words.get(i).replace("'", "").replace("\"", "");
      if (w.endsWith("mount.juicefs")
          || (w.equals("mount")
              && i > 0
              && words.get(i - 1).replace("'", "").endsWith("juicefs"))) {
        mount = i;
      }
    }
    Optional<String> inPod = Optional.empty();
    int positional = 0;
    for (int i = mount + 1; mount >= 0 && i < words.size(); i++) {
      String w = words.get(i).replace("'", "").replace("\"", "");
      if (w.equals("-o")) {
        i++;
      } else if (!w.startsWith("-") && !w.isEmpty() && ++positional == 2) {
        inPod = w.startsWith("/") ? Optional.of(w) : Optional.empty();
        break;
      }
    }
    if (inPod.isEmpty() || c.getVolumeMounts() == null) {
      return Optional.empty();
    }
    // Translate through the volume mount that holds it (jfs-dir: host mount root at /jfs).
    for (VolumeMount vm : c.getVolumeMounts()) {
      Path container = Path.of(vm.getMountPath());
      Path point = Path.of(inPod.get());
      if (point.startsWith(container)) {
        Optional<String> host =
            pod.getSpec().getVolumes().stream()
                .filter(v -> v.getName().equals(vm.getName()) && v.getHostPath() != null)
                .map(Volume::getHostPath)
                .map(h -> h.getPath())
                .findFirst();
        if (host.isPresent()) {
          return Optional.of(Path.of(host.get()).resolve(container.relativize(point)));
        }
      }
    }
    return Optional.empty();
  }

  /** The volume the Go pod serves, from its Secret. */
  static Optional<VolumeSource> source(Pod pod, Secret secret) {
    Map<String, String> data = decode(secret);
    String settings = data.get("jfsSettings");
    Map<String, String> secrets = new HashMap<>();
    Map<String, String> context = new HashMap<>();
    List<String> flags = new ArrayList<>();
    if (settings != null) {
      try {
        JsonNode j = JSON.readTree(settings);
        for (String key :
            List.of(
                "name",
                "metaurl",
                "storage",
                "bucket",
                "access-key",
                "secret-key",
                "format-options")) {
          if (j.hasNonNull(key) && !j.get(key).asText().isEmpty()) {
            secrets.put(key, j.get(key).asText());
          }
        }
        if (j.hasNonNull("envs_map") && j.get("envs_map").size() > 0) {
          secrets.put("envs", j.get("envs_map").toString());
        }
        if (j.hasNonNull("configs_map") && j.get("configs_map").size() > 0) {
          secrets.put("configs", j.get("configs_map").toString());
        }
        if (j.hasNonNull("deleted_delay") && !j.get("deleted_delay").asText().isEmpty()) {
          context.put("juicefs/mount-delete-delay", j.get("deleted_delay").asText());
        }
        if (j.path("clean_cache").asBoolean(false)) {
          context.put("juicefs/clean-cache", "true");
        }
        if (j.hasNonNull("Options")) {
          j.get("Options").forEach(o -> flags.add(o.asText()));
        }
      } catch (tools.jackson.core.JacksonException e) {
        return Optional.empty();
      }
    }
    for (String key :
        List.of("metaurl", "name", "secretkey", "access-key", "secret-key", "bucket", "storage")) {
      if (data.containsKey(key) && !data.get(key).isEmpty()) {
        secrets.put(key.equals("secretkey") ? "secret-key" : key, data.get(key));
      }
    }
    String volumeId =
        Optional.ofNullable(PodReferences.annotations(pod).get(MountPodNames.UNIQUE_ID))
            .orElse(pod.getMetadata().getLabels().get(MountPodNames.VOLUME_ID_LABEL));
    if (volumeId == null || !secrets.containsKey("metaurl") || !secrets.containsKey("name")) {
      return Optional.empty();
    }
    return Optional.of(new VolumeSource(volumeId, secrets, context, flags));
  }

  static Map<String, String> decode(Secret secret) {
    Map<String, String> out = new HashMap<>();
    if (secret.getData() != null) {
      secret
          .getData()
          .forEach(
              (k, v) ->
                  out.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    }
    if (secret.getStringData() != null) {
      out.putAll(secret.getStringData());
    }
    return out;
  }
}

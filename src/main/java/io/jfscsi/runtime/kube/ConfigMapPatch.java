package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodSpec;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeDevice;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.jfscsi.runtime.kube.configmap.MountPodPatch;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the ConfigMap's merged {@code mountPodPatch} to a Mount Pod as the Go driver does, except
 * that it never takes away what the driver itself needs: its own labels, annotations, volumes and
 * environment variables keep their values (a patch that names one is logged and that part skipped),
 * since the references, the settings hash and the secret values live there.
 */
final class ConfigMapPatch {
  private static final Logger log = LoggerFactory.getLogger(ConfigMapPatch.class);

  private ConfigMapPatch() {}

  /** The label the Go driver's {@code enableNodeSelector} places Mount Pods with. */
  static final String HOSTNAME_LABEL = "kubernetes.io/hostname";

  static Pod apply(Pod pod, MountPodPatch patch) {
    if (patch.equals(MountPodPatch.NONE)) {
      return pod;
    }
    String name = pod.getMetadata().getName();
    PodSpec spec = pod.getSpec();
    Container c = spec.getContainers().getFirst();
    if (patch.ceMountImage() != null && !patch.ceMountImage().isEmpty()) {
      c.setImage(patch.ceMountImage());
    }
    if (patch.imagePullPolicy() != null) {
      c.setImagePullPolicy(patch.imagePullPolicy());
    }
    pod.getMetadata()
        .setLabels(added(name, "label", pod.getMetadata().getLabels(), patch.labels()));
    pod.getMetadata()
        .setAnnotations(
            added(name, "annotation", pod.getMetadata().getAnnotations(), patch.annotations()));
    if (patch.hostNetwork() != null) {
      spec.setHostNetwork(patch.hostNetwork());
    }
    if (patch.hostPID() != null) {
      spec.setHostPID(patch.hostPID());
    }
    if (patch.dnsPolicy() != null) {
      spec.setDnsPolicy(patch.dnsPolicy());
    }
    if (patch.dnsConfig() != null) {
      spec.setDnsConfig(patch.dnsConfig());
    }
    if (patch.livenessProbe() != null) {
      c.setLivenessProbe(patch.livenessProbe());
    }
    if (patch.readinessProbe() != null) {
      c.setReadinessProbe(patch.readinessProbe());
    }
    if (patch.startupProbe() != null) {
      c.setStartupProbe(patch.startupProbe());
    }
    if (patch.lifecycle() != null) {
      c.setLifecycle(patch.lifecycle());
    }
    if (patch.resources() != null) {
      c.setResources(patch.resources());
    }
    if (patch.terminationGracePeriodSeconds() != null) {
      spec.setTerminationGracePeriodSeconds(patch.terminationGracePeriodSeconds());
    }
    Set<String> added = new HashSet<>();
    if (patch.volumes() != null) {
      List<Volume> volumes = new ArrayList<>(orEmpty(spec.getVolumes()));
      Set<String> taken = new HashSet<>();
      volumes.forEach(v -> taken.add(v.getName()));
      for (Volume v : patch.volumes()) {
        if (taken.add(v.getName())) {
          volumes.add(v);
          added.add(v.getName());
        } else {
          log.warn(
              "Mount Pod {}: the ConfigMap's volume {} is the driver's own; skipped",
              name,
              v.getName());
        }
      }
      spec.setVolumes(volumes);
    }
    if (patch.volumeMounts() != null) {
      List<VolumeMount> mounts = new ArrayList<>(orEmpty(c.getVolumeMounts()));
      patch.volumeMounts().stream().filter(m -> added.contains(m.getName())).forEach(mounts::add);
      c.setVolumeMounts(mounts);
    }
    if (patch.volumeDevices() != null) {
      List<VolumeDevice> devices = new ArrayList<>(orEmpty(c.getVolumeDevices()));
      patch.volumeDevices().stream().filter(d -> added.contains(d.getName())).forEach(devices::add);
      c.setVolumeDevices(devices);
    }
    if (patch.env() != null) {
      List<EnvVar> env = new ArrayList<>(orEmpty(c.getEnv()));
      Set<String> own = new HashSet<>();
      env.forEach(e -> own.add(e.getName()));
      for (EnvVar e : patch.env()) {
        if (own.contains(e.getName())) {
          log.warn(
              "Mount Pod {}: the ConfigMap's env {} is set by the driver; skipped",
              name,
              e.getName());
        } else {
          env.add(e);
        }
      }
      c.setEnv(env);
    }
    if (patch.initContainers() != null) {
      spec.setInitContainers(new ArrayList<>(patch.initContainers()));
    }
    return pod;
  }

  /**
   * Places {@code pod} with a nodeSelector on the node's {@code kubernetes.io/hostname} label
   * instead of {@code spec.nodeName} (the Go driver's {@code enableNodeSelector}): the scheduler
   * then binds it, so that its resources and taints are checked as for any pod.
   */
  static Pod placeByNodeSelector(Pod pod, String hostname) {
    pod.getSpec().setNodeName(null);
    pod.getSpec().setNodeSelector(Map.of(HOSTNAME_LABEL, hostname));
    return pod;
  }

  private static Map<String, String> added(
      String pod, String what, Map<String, String> own, Map<String, String> extra) {
    if (extra == null || extra.isEmpty()) {
      return own;
    }
    Map<String, String> merged = new LinkedHashMap<>(own == null ? Map.of() : own);
    extra.forEach(
        (k, v) -> {
          if (merged.containsKey(k) && !v.equals(merged.get(k))) {
            log.warn(
                "Mount Pod {}: the ConfigMap's {} {} is the driver's own; skipped", pod, what, k);
          } else {
            merged.put(k, v);
          }
        });
    return merged;
  }

  private static <T> List<T> orEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}

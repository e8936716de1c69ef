package io.jfscsi.runtime.kube.configmap;

import com.fasterxml.jackson.annotation.JsonInclude;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.Lifecycle;
import io.fabric8.kubernetes.api.model.PodDNSConfig;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.ResourceRequirements;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeDevice;
import io.fabric8.kubernetes.api.model.VolumeMount;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.function.UnaryOperator;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;
import tools.jackson.databind.node.ArrayNode;
import tools.jackson.databind.node.ObjectNode;

/**
 * One entry of the Go driver's {@code mountPodPatch} list, or the merge of every entry that applies
 * to one Mount Pod. The pod fields are fabric8's own model types, read as Kubernetes writes them. A
 * field left out (null) changes nothing.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record MountPodPatch(
    PvcSelector pvcSelector,
    NodeSelection nodeSelector,
    String ceMountImage,
    String eeMountImage,
    String imagePullPolicy,
    Map<String, String> labels,
    Map<String, String> annotations,
    Boolean hostNetwork,
    Boolean hostPID,
    String dnsPolicy,
    PodDNSConfig dnsConfig,
    Probe livenessProbe,
    Probe readinessProbe,
    Probe startupProbe,
    Lifecycle lifecycle,
    ResourceRequirements resources,
    Long terminationGracePeriodSeconds,
    List<Volume> volumes,
    List<VolumeMount> volumeMounts,
    List<VolumeDevice> volumeDevices,
    List<EnvVar> env,
    List<Container> initContainers,
    List<String> mountOptions,
    List<PatchCacheDir> cacheDirs) {

  /** Applies nothing. */
  public static final MountPodPatch NONE =
      new MountPodPatch(
          null, null, null, null, null, null, null, null, null, null, null, null, null, null, null,
          null, null, null, null, null, null, null, null, null);

  private static final JsonMapper JSON = JsonMapper.builder().build();

  /**
   * This patch with {@code later} applied over it, as the Go driver merges matching entries in
   * order: a field that {@code later} sets replaces this one's; volumes are added (a name already
   * there is kept, not replaced) and a volume mount or device is added only when it names a volume
   * that some entry added.
   */
  public MountPodPatch then(MountPodPatch later) {
    List<Volume> mergedVolumes = volumes == null ? null : new ArrayList<>(volumes);
    if (later.volumes != null) {
      mergedVolumes = mergedVolumes == null ? new ArrayList<>() : mergedVolumes;
      Set<String> names = new HashSet<>();
      mergedVolumes.forEach(v -> names.add(v.getName()));
      for (Volume v : later.volumes) {
        if (names.add(v.getName())) {
          mergedVolumes.add(v);
        }
      }
    }
    Set<String> volumeNames = new HashSet<>();
    if (mergedVolumes != null) {
      mergedVolumes.forEach(v -> volumeNames.add(v.getName()));
    }
    return new MountPodPatch(
        null,
        null,
        pick(later.ceMountImage, ceMountImage),
        pick(later.eeMountImage, eeMountImage),
        pick(later.imagePullPolicy, imagePullPolicy),
        pick(later.labels, labels),
        pick(later.annotations, annotations),
        pick(later.hostNetwork, hostNetwork),
        pick(later.hostPID, hostPID),
        pick(later.dnsPolicy, dnsPolicy),
        pick(later.dnsConfig, dnsConfig),
        pick(later.livenessProbe, livenessProbe),
        pick(later.readinessProbe, readinessProbe),
        pick(later.startupProbe, startupProbe),
        pick(later.lifecycle, lifecycle),
        pick(later.resources, resources),
        pick(later.terminationGracePeriodSeconds, terminationGracePeriodSeconds),
        mergedVolumes,
        appendNaming(volumeMounts, later.volumeMounts, VolumeMount::getName, volumeNames),
        appendNaming(volumeDevices, later.volumeDevices, VolumeDevice::getName, volumeNames),
        pick(later.env, env),
        pick(later.initContainers, initContainers),
        pick(later.mountOptions, mountOptions),
        pick(later.cacheDirs, cacheDirs));
  }

  private static <T> T pick(T later, T earlier) {
    return later != null ? later : earlier;
  }

  private static <T> List<T> appendNaming(
      List<T> earlier, List<T> later, Function<T, String> name, Set<String> volumes) {
    if (later == null) {
      return earlier;
    }
    List<T> merged = earlier == null ? new ArrayList<>() : new ArrayList<>(earlier);
    later.stream().filter(m -> volumes.contains(name.apply(m))).forEach(merged::add);
    return merged;
  }

  /**
   * This patch with {@code replace} applied to every text value in it (keys are left alone): how
   * {@code ${MOUNT_POINT}} and the other templates are filled in. The values go in as data, never
   * as YAML or JSON syntax, so no value can change the shape of the patch.
   */
  public MountPodPatch mapText(UnaryOperator<String> replace) {
    JsonNode tree = JSON.valueToTree(this);
    return JSON.treeToValue(mapText(tree, replace), MountPodPatch.class);
  }

  private static JsonNode mapText(JsonNode node, UnaryOperator<String> replace) {
    if (node.isString()) {
      return JSON.getNodeFactory().stringNode(replace.apply(node.asString()));
    }
    if (node instanceof ObjectNode object) {
      ObjectNode copy = JSON.createObjectNode();
      object.properties().forEach(e -> copy.set(e.getKey(), mapText(e.getValue(), replace)));
      return copy;
    }
    if (node instanceof ArrayNode array) {
      ArrayNode copy = JSON.createArrayNode();
      array.forEach(item -> copy.add(mapText(item, replace)));
      return copy;
    }
    return node;
  }
}

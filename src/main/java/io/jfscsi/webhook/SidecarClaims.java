package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.CSIPersistentVolumeSource;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Failure;
import io.jfscsi.juicefs.ClaimSettings;
import io.jfscsi.juicefs.ObjectTemplates;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The JuiceFS claims of an app pod, read from the API server as the Go driver's webhook reads them:
 * each claim the pod's volumes name, its PV when it is a {@code driverName} CSI volume (or its
 * StorageClass when it is still unbound), and the PV's node-publish Secret; then the volume source
 * a publish would get (the PV's volumeAttributes, its mountOptions, {@code ro} when it is
 * ReadOnlyMany only, the claim's annotations and {@code ${.pvc.*}} templates).
 *
 * <p>A JuiceFS claim that is not bound, a missing claim, PV or Secret is a {@link Failure} (the pod
 * is refused, as by the Go driver: a pod admitted without its client would start on an empty
 * directory or wait for a Mount Pod that sidecar mode means to avoid).
 */
public final class SidecarClaims {
  private final KubernetesClient client;
  private final String driverName;

  public SidecarClaims(KubernetesClient client, String driverName) {
    this.client = client;
    this.driverName = driverName;
  }

  public List<SidecarClaim> of(Pod pod) {
    String namespace = pod.getMetadata().getNamespace();
    Map<String, List<Volume>> byClaim = new LinkedHashMap<>();
    List<Volume> volumes =
        pod.getSpec().getVolumes() == null ? List.of() : pod.getSpec().getVolumes();
    for (Volume v : volumes) {
      if (v.getPersistentVolumeClaim() != null) {
        byClaim
            .computeIfAbsent(v.getPersistentVolumeClaim().getClaimName(), k -> new ArrayList<>())
            .add(v);
      }
    }
    List<SidecarClaim> out = new ArrayList<>();
    for (Map.Entry<String, List<Volume>> e : byClaim.entrySet()) {
      claim(namespace, e.getKey(), e.getValue()).ifPresent(out::add);
    }
    return out;
  }

  private Optional<SidecarClaim> claim(String namespace, String name, List<Volume> volumes) {
    String qualified = namespace + "/" + name;
    PersistentVolumeClaim pvc =
        client.persistentVolumeClaims().inNamespace(namespace).withName(name).get();
    if (pvc == null) {
      throw Failure.notFound(
          "claim " + qualified + " does not exist: the webhook cannot tell whether it is JuiceFS");
    }
    String volumeName = pvc.getSpec().getVolumeName();
    if (volumeName == null || volumeName.isEmpty()) {
      if (ours(pvc)) {
        throw Failure.precondition(
            "JuiceFS claim "
                + qualified
                + " is not bound yet; its sidecar needs its PV (a StorageClass with"
                + " volumeBindingMode WaitForFirstConsumer never binds before the pod: use"
                + " Immediate for sidecar mode)");
      }
      return Optional.empty();
    }
    PersistentVolume pv = client.persistentVolumes().withName(volumeName).get();
    CSIPersistentVolumeSource csi = pv == null ? null : pv.getSpec().getCsi();
    if (csi == null || !driverName.equals(csi.getDriver())) {
      return Optional.empty();
    }
    Map<String, String> secrets = secrets(csi.getNodePublishSecretRef(), qualified);
    List<String> flags = new ArrayList<>();
    List<String> modes = pv.getSpec().getAccessModes();
    if (modes != null && modes.size() == 1 && modes.getFirst().equals("ReadOnlyMany")) {
      flags.add("ro");
    }
    if (pv.getSpec().getMountOptions() != null) {
      flags.addAll(pv.getSpec().getMountOptions());
    }
    Map<String, String> context =
        csi.getVolumeAttributes() == null ? Map.of() : csi.getVolumeAttributes();
    VolumeSource source = new VolumeSource(csi.getVolumeHandle(), secrets, context, flags);
    source =
        ClaimSettings.apply(
            source,
            Optional.of(
                ObjectTemplates.Subject.claim(
                    name,
                    namespace,
                    pvc.getMetadata().getLabels(),
                    pvc.getMetadata().getAnnotations())),
            qualified,
            Optional.empty());
    boolean readOnly =
        volumes.stream()
            .anyMatch(v -> Boolean.TRUE.equals(v.getPersistentVolumeClaim().getReadOnly()));
    return Optional.of(
        new SidecarClaim(
            namespace,
            name,
            pvc.getMetadata().getUid() == null ? "" : pvc.getMetadata().getUid(),
            volumes.stream().map(Volume::getName).toList(),
            source,
            readOnly,
            pvc));
  }

  private boolean ours(PersistentVolumeClaim pvc) {
    String className = pvc.getSpec().getStorageClassName();
    if (className == null || className.isEmpty()) {
      return false;
    }
    StorageClass sc = client.storage().v1().storageClasses().withName(className).get();
    return sc != null && driverName.equals(sc.getProvisioner());
  }

  private Map<String, String> secrets(SecretReference ref, String claim) {
    if (ref == null || ref.getName() == null) {
      throw Failure.invalid(
          "the PV of JuiceFS claim "
              + claim
              + " names no nodePublishSecretRef: no metaurl to mount");
    }
    Secret secret = client.secrets().inNamespace(ref.getNamespace()).withName(ref.getName()).get();
    if (secret == null) {
      throw Failure.notFound(
          "Secret "
              + ref.getNamespace()
              + "/"
              + ref.getName()
              + " of JuiceFS claim "
              + claim
              + " does not exist");
    }
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

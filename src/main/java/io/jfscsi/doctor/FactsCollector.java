package io.jfscsi.doctor;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.MountPodVolumes;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/** Reads the {@link Facts} of a pod's or a PVC's volume chain from the API (reads only). */
public final class FactsCollector {

  private final KubernetesClient client;

  public FactsCollector(KubernetesClient client) {
    this.client = client;
  }

  /** The chain of the first JuiceFS-looking PVC of a pod, or of {@code claim} if given. */
  public Facts forPod(String namespace, String name, Optional<String> claim) {
    Pod pod = client.pods().inNamespace(namespace).withName(name).get();
    String subject = "pod " + namespace + "/" + name;
    if (pod == null) {
      return new Facts(
          subject,
          Optional.empty(),
          namespace + "/?",
          Optional.empty(),
          Optional.empty(),
          Optional.empty(),
          Optional.empty(),
          Optional.empty(),
          List.of(),
          List.of());
    }
    List<String> claims =
        pod.getSpec().getVolumes().stream()
            .filter(v -> v.getPersistentVolumeClaim() != null)
            .map(v -> v.getPersistentVolumeClaim().getClaimName())
            .toList();
    String pvcName = claim.orElse(claims.isEmpty() ? "" : claims.getFirst());
    if (pvcName.isEmpty()) {
      throw new IllegalArgumentException(subject + " mounts no PersistentVolumeClaim");
    }
    return collect(subject, Optional.of(pod), namespace, pvcName);
  }

  public Facts forClaim(String namespace, String name) {
    return collect("pvc " + namespace + "/" + name, Optional.empty(), namespace, name);
  }

  private Facts collect(String subject, Optional<Pod> pod, String namespace, String pvcName) {
    PersistentVolumeClaim pvc =
        client.persistentVolumeClaims().inNamespace(namespace).withName(pvcName).get();
    Optional<StorageClass> sc =
        Optional.ofNullable(pvc)
            .map(c -> c.getSpec().getStorageClassName())
            .filter(n -> !n.isEmpty())
            .map(n -> client.storage().v1().storageClasses().withName(n).get());
    Optional<PersistentVolume> pv =
        Optional.ofNullable(pvc)
            .map(c -> c.getSpec().getVolumeName())
            .filter(n -> !n.isEmpty())
            .map(n -> client.persistentVolumes().withName(n).get());
    Optional<Facts.SecretFact> provisionerSecret =
        sc.flatMap(
            s -> {
              Map<String, String> p = Optional.ofNullable(s.getParameters()).orElse(Map.of());
              String secretName = p.get(Doctor.PROVISIONER_SECRET_NAME);
              if (secretName == null) {
                return Optional.empty();
              }
              String secretNamespace =
                  p.getOrDefault(Doctor.PROVISIONER_SECRET_NAMESPACE, "default");
              // The external provisioner's templates, resolved the way it resolves them.
              secretName =
                  secretName.replace("${pvc.name}", pvcName).replace("${pvc.namespace}", namespace);
              secretNamespace = secretNamespace.replace("${pvc.namespace}", namespace);
              return Optional.of(secret(secretNamespace, secretName));
            });
    Optional<Facts.SecretFact> publishSecret =
        pv.map(v -> v.getSpec().getCsi())
            .map(csi -> csi.getNodePublishSecretRef())
            .map(ref -> secret(ref.getNamespace(), ref.getName()));
    List<Pod> mountPods =
        pv.map(v -> v.getSpec().getCsi())
            .map(
                csi ->
                    mountPods(
                        csi.getVolumeHandle(),
                        pod.map(p -> p.getSpec().getNodeName()).orElse(null)))
            .orElse(List.of());
    List<Event> events = new ArrayList<>();
    pod.ifPresent(p -> events.addAll(events(namespace, "Pod", p.getMetadata().getName())));
    if (pvc != null) {
      events.addAll(events(namespace, "PersistentVolumeClaim", pvcName));
    }
    for (Pod mp : mountPods) {
      events.addAll(events(mp.getMetadata().getNamespace(), "Pod", mp.getMetadata().getName()));
    }
    events.sort(Comparator.comparing(FactsCollector::when));
    return new Facts(
        subject,
        pod,
        namespace + "/" + pvcName,
        Optional.ofNullable(pvc),
        sc,
        pv,
        provisionerSecret,
        publishSecret,
        mountPods,
        events);
  }

  private List<Pod> mountPods(String volumeHandle, String nodeName) {
    var pods = client.pods().inAnyNamespace().withLabel(MountPodNames.APP_LABEL, MountPodNames.APP);
    // Labelled by the volume, or, in a share mode, by its StorageClass or file system.
    List<Pod> all =
        pods.list().getItems().stream()
            .filter(mp -> MountPodVolumes.serves(mp, volumeHandle))
            .toList();
    return nodeName == null
        ? all
        : all.stream().filter(p -> nodeName.equals(p.getSpec().getNodeName())).toList();
  }

  private List<Event> events(String namespace, String kind, String name) {
    return client
        .v1()
        .events()
        .inNamespace(namespace)
        .withField("involvedObject.kind", kind)
        .withField("involvedObject.name", name)
        .list()
        .getItems();
  }

  private Facts.SecretFact secret(String namespace, String name) {
    String reference = namespace + "/" + name;
    Secret s = client.secrets().inNamespace(namespace).withName(name).get();
    if (s == null) {
      return new Facts.SecretFact(reference, Optional.empty());
    }
    return new Facts.SecretFact(reference, Optional.of(values(s)));
  }

  /** A Secret's values, decoded; {@code stringData} over {@code data}, as the API server does. */
  public static Map<String, String> values(Secret s) {
    Map<String, String> data = new HashMap<>();
    Optional.ofNullable(s.getData())
        .orElse(Map.of())
        .forEach(
            (k, v) ->
                data.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    Optional.ofNullable(s.getStringData()).orElse(Map.of()).forEach(data::put);
    return data;
  }

  /** When an Event last happened, as the API gives it ("" when it says nothing). */
  public static String when(Event e) {
    String t =
        e.getLastTimestamp() != null
            ? e.getLastTimestamp()
            : e.getEventTime() != null ? e.getEventTime().getTime() : e.getFirstTimestamp();
    return t == null ? "" : t;
  }
}

package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The StorageClass parameter {@code secretFinalizer: "true"}, as in the Go driver: the provisioner
 * Secret gets the finalizer {@code juicefs.com/finalizer} when a volume with reclaim policy Delete
 * is provisioned through it, so that it cannot be deleted while a volume still needs it to remove
 * its directory; the finalizer is removed when the last such volume of this driver is deleted.
 */
final class SecretFinalizer {
  private static final Logger log = LoggerFactory.getLogger(SecretFinalizer.class);

  /** The Go driver's finalizer (also that of Mount Pods). */
  static final String NAME = "juicefs.com/finalizer";

  static final String PARAMETER = "secretFinalizer";

  private SecretFinalizer() {}

  /** Whether the parameters (a StorageClass's, or a PV's volume attributes) ask for it. */
  static boolean wanted(Map<String, String> parameters) {
    return parameters != null && "true".equalsIgnoreCase(parameters.getOrDefault(PARAMETER, ""));
  }

  /** Adds the finalizer to the Secret unless it is there, by a patch of its finalizers only. */
  static void add(KubernetesClient client, VolumeObjects.SecretRef ref) {
    var secret = client.secrets().inNamespace(ref.namespace()).withName(ref.name());
    Secret current = secret.get();
    if (current == null || finalizers(current).contains(NAME)) {
      return;
    }
    secret.edit(
        s -> {
          List<String> f = new ArrayList<>(finalizers(s));
          if (!f.contains(NAME)) {
            f.add(NAME);
          }
          s.getMetadata().setFinalizers(f);
          return s;
        });
    log.info("secret {}: finalizer {} added (StorageClass parameter secretFinalizer)", ref, NAME);
  }

  /**
   * Removes the finalizer from the deletion Secret of {@code deleted} unless another volume of this
   * driver that is not being deleted names the same Secret.
   */
  static void releaseUnlessUsed(
      KubernetesClient client,
      PersistentVolume deleted,
      Optional<VolumeObjects.SecretRef> ref,
      Collection<PersistentVolume> volumes,
      String driverName) {
    if (ref.isEmpty() || !wanted(VolumeObjects.attributes(deleted))) {
      return;
    }
    String name = deleted.getMetadata().getName();
    Optional<String> user =
        volumes.stream()
            .filter(pv -> !pv.getMetadata().getName().equals(name))
            .filter(pv -> pv.getMetadata().getDeletionTimestamp() == null)
            .filter(pv -> VolumeObjects.ours(pv, driverName))
            .filter(pv -> ProvisioningLoop.deletionSecretOf(pv).equals(ref))
            .map(pv -> pv.getMetadata().getName())
            .findFirst();
    if (user.isPresent()) {
      log.info("secret {}: finalizer {} kept, volume {} uses it too", ref.get(), NAME, user.get());
      return;
    }
    var secret = client.secrets().inNamespace(ref.get().namespace()).withName(ref.get().name());
    Secret current = secret.get();
    if (current == null || !finalizers(current).contains(NAME)) {
      return;
    }
    secret.edit(
        s -> {
          List<String> f = new ArrayList<>(finalizers(s));
          f.remove(NAME);
          s.getMetadata().setFinalizers(f);
          return s;
        });
    log.info("secret {}: finalizer {} removed, no volume uses it any more", ref.get(), NAME);
  }

  private static List<String> finalizers(Secret s) {
    List<String> f = s.getMetadata().getFinalizers();
    return f == null ? List.of() : f;
  }
}

package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimCondition;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Failure;
import io.jfscsi.controller.VolumeProvisioner;
import java.math.BigDecimal;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What external-resizer does for a driver that needs no node expansion, done by the built-in
 * provisioner because no csi-resizer runs beside it: a bound claim of one of this driver's volumes
 * whose storage request grew beyond the volume's capacity, in a StorageClass that allows expansion,
 * gets its directory quota raised ({@link VolumeProvisioner.Expand}, the ControllerExpandVolume
 * logic), then the PV's capacity, then the claim's status capacity, with its resize conditions
 * cleared; Events {@code Resizing}, {@code VolumeResizeSuccessful} and {@code VolumeResizeFailed}
 * on the claim, with external-resizer's reasons.
 */
final class ClaimResizer {
  private static final Logger log = LoggerFactory.getLogger(ClaimResizer.class);

  static final String RESIZING = "Resizing";
  static final String SUCCESSFUL = "VolumeResizeSuccessful";
  static final String FAILED = "VolumeResizeFailed";

  /** The conditions a resizer sets on a claim while it works; none is left once it is done. */
  private static final List<String> RESIZE_CONDITIONS =
      List.of("Resizing", "FileSystemResizePending");

  /** Asks the provisioner actor; its failure is thrown. */
  interface Ask {
    VolumeProvisioner.Expanded expand(
        Function<ActorRef<StatusReply<VolumeProvisioner.Expanded>>, VolumeProvisioner.Command> m);
  }

  private final KubernetesClient client;
  private final ProvisioningEvents events;
  private final Function<VolumeObjects.SecretRef, Map<String, String>> secrets;
  private final Ask ask;

  ClaimResizer(
      KubernetesClient client,
      ProvisioningEvents events,
      Function<VolumeObjects.SecretRef, Map<String, String>> secrets,
      Ask ask) {
    this.client = client;
    this.events = events;
    this.secrets = secrets;
    this.ask = ask;
  }

  /** The claim's volume when the claim is bound to one of {@code driverName}'s PVs. */
  static Optional<String> boundVolume(PersistentVolumeClaim pvc) {
    if (pvc.getStatus() == null || !"Bound".equals(pvc.getStatus().getPhase())) {
      return Optional.empty();
    }
    String name = pvc.getSpec().getVolumeName();
    return name == null || name.isEmpty() ? Optional.empty() : Optional.of(name);
  }

  /**
   * Resizes when the claim asks for more than its volume has, or finishes a resize whose claim
   * status was not written yet; does nothing otherwise. Failures are Events and are thrown, so the
   * caller retries with backoff.
   */
  void resizeIfAsked(PersistentVolumeClaim pvc, PersistentVolume pv, String driverName) {
    if (!VolumeObjects.ours(pv, driverName)) {
      return;
    }
    BigDecimal requested = amount(VolumeObjects.requested(pvc));
    BigDecimal capacity = amount(capacityOf(pv));
    if (requested.signum() <= 0) {
      return;
    }
    if (requested.compareTo(capacity) > 0) {
      try {
        expand(pvc, pv);
      } catch (RuntimeException e) {
        events.record(pvc, "Warning", FAILED, ProvisioningEvents.plain(e));
        throw new Retry(e);
      }
    } else if (amount(statusCapacity(pvc)).compareTo(capacity) < 0) {
      finish(pvc, capacityOf(pv).orElseThrow());
    }
  }

  private void expand(PersistentVolumeClaim pvc, PersistentVolume pv) {
    String scName = pvc.getSpec().getStorageClassName();
    StorageClass sc =
        scName == null || scName.isEmpty()
            ? null
            : client.storage().v1().storageClasses().withName(scName).get();
    if (sc == null || !Boolean.TRUE.equals(sc.getAllowVolumeExpansion())) {
      throw Failure.precondition(
          "StorageClass " + scName + " does not allow volume expansion (allowVolumeExpansion)");
    }
    Quantity target = VolumeObjects.requested(pvc).orElseThrow();
    long bytes = VolumeObjects.bytes(Optional.of(target));
    String pvName = pv.getMetadata().getName();
    events.record(pvc, "Normal", RESIZING, "External resizer is resizing volume " + pvName);
    Map<String, String> secret = secrets.apply(expandSecret(pv, sc, pvc));
    VolumeProvisioner.Expanded expanded =
        ask.expand(
            reply ->
                new VolumeProvisioner.Expand(
                    pvName,
                    VolumeObjects.subPath(pv),
                    secret,
                    bytes,
                    pv.getSpec().getMountOptions() == null
                        ? List.of()
                        : pv.getSpec().getMountOptions(),
                    reply));
    Quantity size =
        expanded.capacityBytes() > bytes
            ? new Quantity(Long.toString(expanded.capacityBytes()))
            : target;
    client
        .persistentVolumes()
        .withName(pvName)
        .edit(
            p -> {
              p.getSpec().getCapacity().put("storage", size);
              return p;
            });
    finish(pvc, size);
    log.info(
        "claim {}/{}: volume {} expanded to {}",
        pvc.getMetadata().getNamespace(),
        pvc.getMetadata().getName(),
        pvName,
        size);
  }

  /** The claim's status says the new size, and no resize is under way any more. */
  private void finish(PersistentVolumeClaim pvc, Quantity size) {
    client
        .persistentVolumeClaims()
        .inNamespace(pvc.getMetadata().getNamespace())
        .withName(pvc.getMetadata().getName())
        .editStatus(
            current -> {
              List<PersistentVolumeClaimCondition> kept =
                  current.getStatus().getConditions() == null
                      ? List.of()
                      : current.getStatus().getConditions().stream()
                          .filter(c -> !RESIZE_CONDITIONS.contains(c.getType()))
                          .toList();
              return new PersistentVolumeClaimBuilder(current)
                  .editStatus()
                  .addToCapacity("storage", size)
                  .withConditions(kept)
                  .endStatus()
                  .build();
            });
    events.record(pvc, "Normal", SUCCESSFUL, "Resize volume succeeded");
  }

  /**
   * The PV's controllerExpandSecretRef (what external-resizer reads), else the StorageClass's
   * {@code csi.storage.k8s.io/controller-expand-secret-*}.
   */
  private static VolumeObjects.SecretRef expandSecret(
      PersistentVolume pv, StorageClass sc, PersistentVolumeClaim pvc) {
    SecretReference ref = pv.getSpec().getCsi().getControllerExpandSecretRef();
    if (ref != null && ref.getName() != null && ref.getNamespace() != null) {
      return new VolumeObjects.SecretRef(ref.getName(), ref.getNamespace());
    }
    Map<String, String> parameters = sc.getParameters() == null ? Map.of() : sc.getParameters();
    return VolumeObjects.secretRef(parameters, "controller-expand", pvc, pv.getMetadata().getName())
        .orElseThrow(
            () ->
                Failure.invalid(
                    "StorageClass "
                        + sc.getMetadata().getName()
                        + " names no controller-expand secret"
                        + " (csi.storage.k8s.io/controller-expand-secret-name and -namespace):"
                        + " the controller needs its name and metaurl to raise the quota"));
  }

  private static Optional<Quantity> capacityOf(PersistentVolume pv) {
    return pv.getSpec().getCapacity() == null
        ? Optional.empty()
        : Optional.ofNullable(pv.getSpec().getCapacity().get("storage"));
  }

  private static Optional<Quantity> statusCapacity(PersistentVolumeClaim pvc) {
    return pvc.getStatus() == null || pvc.getStatus().getCapacity() == null
        ? Optional.empty()
        : Optional.ofNullable(pvc.getStatus().getCapacity().get("storage"));
  }

  private static BigDecimal amount(Optional<Quantity> q) {
    return q.map(Quantity::getNumericalAmount).orElse(BigDecimal.ZERO);
  }

  /** A failure already recorded as VolumeResizeFailed: retried, with no second Event. */
  static final class Retry extends RuntimeException {
    Retry(RuntimeException cause) {
      super(cause.getMessage(), cause);
    }
  }
}

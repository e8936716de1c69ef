package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.ObjectReference;
import io.fabric8.kubernetes.api.model.ObjectReferenceBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretReference;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.jfscsi.Failure;
import io.jfscsi.controller.VolumeProvisioner;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the built-in provisioner reads from claims and StorageClasses and the PersistentVolume it
 * writes, as pure functions: which claim is ours to provision, which volume ours to delete, the
 * secret references, the volume attributes, and the PV itself.
 */
public final class VolumeObjects {
  private VolumeObjects() {}

  /** Set by kube-controller-manager on a claim whose StorageClass names an external provisioner. */
  public static final String STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner";

  public static final String BETA_STORAGE_PROVISIONER =
      "volume.beta.kubernetes.io/storage-provisioner";

  /** On every PV this driver provisioned, as external-provisioner writes it. */
  public static final String PROVISIONED_BY = "pv.kubernetes.io/provisioned-by";

  /** Parameters for the CO, never passed on to the volume. */
  public static final String CSI_PARAMETER_PREFIX = "csi.storage.k8s.io/";

  public static final String PATH_PATTERN = "pathPattern";
  public static final String CAPACITY = "capacity";

  /** The secret a StorageClass names for one purpose ("provisioner", "node-publish", ...). */
  public record SecretRef(String name, String namespace) {
    @Override
    public String toString() {
      return namespace + "/" + name;
    }
  }

  public static String pvName(PersistentVolumeClaim pvc) {
    return "pvc-" + pvc.getMetadata().getUid();
  }

  /** A claim waiting for this driver to provision it: ours, unbound, not being deleted. */
  public static boolean pendingFor(PersistentVolumeClaim pvc, String driverName) {
    Map<String, String> a = pvc.getMetadata().getAnnotations();
    boolean ours =
        a != null
            && (driverName.equals(a.get(STORAGE_PROVISIONER))
                || driverName.equals(a.get(BETA_STORAGE_PROVISIONER)));
    String volumeName = pvc.getSpec() == null ? null : pvc.getSpec().getVolumeName();
    return ours
        && (volumeName == null || volumeName.isEmpty())
        && pvc.getMetadata().getDeletionTimestamp() == null
        && (pvc.getStatus() == null || !"Bound".equals(pvc.getStatus().getPhase()));
  }

  /** A PV this driver provisioned, for the driver, released by its claim, to be deleted. */
  public static boolean releasedForDelete(PersistentVolume pv, String driverName) {
    return ours(pv, driverName)
        && pv.getStatus() != null
        && "Released".equals(pv.getStatus().getPhase())
        && "Delete".equals(pv.getSpec().getPersistentVolumeReclaimPolicy())
        && pv.getMetadata().getDeletionTimestamp() == null;
  }

  public static boolean ours(PersistentVolume pv, String driverName) {
    Map<String, String> a = pv.getMetadata().getAnnotations();
    return a != null
        && driverName.equals(a.get(PROVISIONED_BY))
        && pv.getSpec() != null
        && pv.getSpec().getCsi() != null
        && driverName.equals(pv.getSpec().getCsi().getDriver());
  }

  /** The volume attributes of a CSI PV (empty when it has none). */
  static Map<String, String> attributes(PersistentVolume pv) {
    var csi = pv.getSpec().getCsi();
    Map<String, String> a = csi == null ? null : csi.getVolumeAttributes();
    return a == null ? Map.of() : a;
  }

  /** The sub-directory of a PV of ours, from its volume attributes (the PV name if absent). */
  public static String subPath(PersistentVolume pv) {
    Map<String, String> attributes = pv.getSpec().getCsi().getVolumeAttributes();
    String s = attributes == null ? null : attributes.get(VolumeProvisioner.SUB_PATH);
    return s == null || s.isEmpty() ? pv.getMetadata().getName() : s;
  }

  /**
   * The secret named by {@code csi.storage.k8s.io/<purpose>-secret-name/-namespace}, templates
   * resolved; empty when the StorageClass names none. Half a reference is refused.
   */
  public static Optional<SecretRef> secretRef(
      Map<String, String> parameters, String purpose, PersistentVolumeClaim pvc, String pvName) {
    String nameKey = CSI_PARAMETER_PREFIX + purpose + "-secret-name";
    String namespaceKey = CSI_PARAMETER_PREFIX + purpose + "-secret-namespace";
    String name = parameters.get(nameKey);
    String namespace = parameters.get(namespaceKey);
    if (name == null && namespace == null) {
      return Optional.empty();
    }
    if (name == null || namespace == null) {
      throw Failure.invalid(
          "the StorageClass sets "
              + (name == null ? namespaceKey : nameKey)
              + " but not "
              + (name == null ? nameKey : namespaceKey));
    }
    return Optional.of(
        new SecretRef(
            Templates.secretReference(nameKey, name, pvc, pvName),
            Templates.secretReference(namespaceKey, namespace, pvc, pvName)));
  }

  /**
   * The PV's {@code controllerExpandSecretRef} from the StorageClass's {@code
   * csi.storage.k8s.io/controller-expand-secret-*}, as external-provisioner writes it: the built-in
   * resizer and a csi-resizer sidecar read it there.
   */
  static void addExpandSecretRef(
      PersistentVolume pv, Map<String, String> parameters, PersistentVolumeClaim pvc) {
    secretRef(parameters, "controller-expand", pvc, pv.getMetadata().getName())
        .ifPresent(
            ref ->
                pv.getSpec()
                    .getCsi()
                    .setControllerExpandSecretRef(
                        new SecretReference(ref.name(), ref.namespace())));
  }

  /** StorageClass parameters without the CO's own {@code csi.storage.k8s.io/*} keys. */
  public static Map<String, String> volumeParameters(Map<String, String> parameters) {
    return volumeParameters(parameters, null, Optional.empty());
  }

  /**
   * The parameters with the claim's and the chosen node's templates filled in, as the Go driver's
   * provisioner does ({@code pvc} null: as they are).
   */
  public static Map<String, String> volumeParameters(
      Map<String, String> parameters, PersistentVolumeClaim pvc, Optional<Node> node) {
    Map<String, String> result = new TreeMap<>();
    parameters.forEach(
        (k, v) -> {
          if (!k.startsWith(CSI_PARAMETER_PREFIX)) {
            result.put(k, pvc == null ? v : Templates.parameter(v, pvc, node));
          }
        });
    return result;
  }

  /** The storage the claim requests, in bytes (0 when it requests none). */
  public static Optional<Quantity> requested(PersistentVolumeClaim pvc) {
    var resources = pvc.getSpec().getResources();
    if (resources == null || resources.getRequests() == null) {
      return Optional.empty();
    }
    return Optional.ofNullable(resources.getRequests().get("storage"));
  }

  public static long bytes(Optional<Quantity> quantity) {
    if (quantity.isEmpty()) {
      return 0;
    }
    BigDecimal b = quantity.get().getNumericalAmount();
    if (b.signum() < 0) {
      throw Failure.invalid("the claim requests a negative storage size");
    }
    try {
      return b.setScale(0, RoundingMode.CEILING).longValueExact();
    } catch (ArithmeticException e) {
      throw Failure.invalid("the claim's storage request " + quantity.get() + " is too large");
    }
  }

  /**
   * Refuses what a JuiceFS sub-directory cannot be: a block device. A data source is checked by
   * {@link ClaimSnapshots}.
   */
  public static void checkClaim(PersistentVolumeClaim pvc) {
    if ("Block".equals(pvc.getSpec().getVolumeMode())) {
      throw Failure.invalid(
          "volumeMode Block is not supported: a JuiceFS volume is a file " + "system");
    }
  }

  /** The StorageClass's mountOptions for this claim, templates resolved. */
  public static List<String> mountOptions(StorageClass sc, PersistentVolumeClaim pvc) {
    return mountOptions(sc, pvc, Optional.empty());
  }

  /**
   * The StorageClass's mountOptions for this claim on the chosen node (if known yet), templates
   * resolved; those of an unknown node are left for the node plugin.
   */
  public static List<String> mountOptions(
      StorageClass sc, PersistentVolumeClaim pvc, Optional<Node> node) {
    return sc.getMountOptions() == null
        ? List.of()
        : sc.getMountOptions().stream().map(o -> Templates.mountOption(o, pvc, node)).toList();
  }

  /**
   * The PV for a claim: CSI source of {@code driverName} with volumeHandle = PV name, fsType
   * juicefs, the volume attributes, and the node-publish secret; capacity, access modes, claimRef,
   * class, reclaim policy and mount options as the claim and StorageClass say.
   */
  public static PersistentVolume persistentVolume(
      String driverName,
      PersistentVolumeClaim pvc,
      StorageClass sc,
      Map<String, String> attributes,
      Optional<SecretRef> nodePublishSecret) {
    return persistentVolume(
        driverName, pvc, sc, attributes, nodePublishSecret, mountOptions(sc, pvc));
  }

  /** As above, with the mount options already resolved. */
  public static PersistentVolume persistentVolume(
      String driverName,
      PersistentVolumeClaim pvc,
      StorageClass sc,
      Map<String, String> attributes,
      Optional<SecretRef> nodePublishSecret,
      List<String> mountOptions) {
    String name = pvName(pvc);
    Quantity capacity = requested(pvc).orElse(new Quantity("0"));
    ObjectReference claimRef =
        new ObjectReferenceBuilder()
            .withKind("PersistentVolumeClaim")
            .withApiVersion("v1")
            .withNamespace(pvc.getMetadata().getNamespace())
            .withName(pvc.getMetadata().getName())
            .withUid(pvc.getMetadata().getUid())
            .withResourceVersion(pvc.getMetadata().getResourceVersion())
            .build();
    var builder =
        new PersistentVolumeBuilder()
            .withNewMetadata()
            .withName(name)
            .addToAnnotations(PROVISIONED_BY, driverName)
            .endMetadata()
            .withNewSpec()
            .addToCapacity("storage", capacity)
            .withAccessModes(pvc.getSpec().getAccessModes())
            .withClaimRef(claimRef)
            .withStorageClassName(sc.getMetadata().getName())
            .withPersistentVolumeReclaimPolicy(
                sc.getReclaimPolicy() == null ? "Delete" : sc.getReclaimPolicy())
            .withVolumeMode("Filesystem")
            .withMountOptions(mountOptions.isEmpty() ? null : mountOptions)
            .withNewCsi()
            .withDriver(driverName)
            .withVolumeHandle(name)
            .withFsType("juicefs")
            .withVolumeAttributes(new TreeMap<>(attributes))
            .endCsi()
            .endSpec();
    PersistentVolume pv = builder.build();
    nodePublishSecret.ifPresent(
        ref ->
            pv.getSpec()
                .getCsi()
                .setNodePublishSecretRef(new SecretReference(ref.name(), ref.namespace())));
    return pv;
  }
}

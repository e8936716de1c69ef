package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.GenericKubernetesResource;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.TypedLocalObjectReference;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.dsl.base.ResourceDefinitionContext;
import io.jfscsi.Failure;
import io.jfscsi.controller.SnapshotHandle;
import java.util.Map;
import java.util.Optional;

/**
 * The snapshot a claim's dataSource names, read the way external-provisioner reads it: the
 * VolumeSnapshot (snapshot.storage.k8s.io/v1) must be bound to a VolumeSnapshotContent of this
 * driver that points back at it and be ready to use; the content's snapshot handle is what
 * CreateSnapshot answered. Read as generic resources, so no snapshot model is needed.
 */
final class ClaimSnapshots {
  private ClaimSnapshots() {}

  static final String GROUP = "snapshot.storage.k8s.io";

  static final ResourceDefinitionContext SNAPSHOTS =
      new ResourceDefinitionContext.Builder()
          .withGroup(GROUP)
          .withVersion("v1")
          .withKind("VolumeSnapshot")
          .withPlural("volumesnapshots")
          .withNamespaced(true)
          .build();

  static final ResourceDefinitionContext CONTENTS =
      new ResourceDefinitionContext.Builder()
          .withGroup(GROUP)
          .withVersion("v1")
          .withKind("VolumeSnapshotContent")
          .withPlural("volumesnapshotcontents")
          .withNamespaced(false)
          .build();

  /**
   * The snapshot the claim's new volume starts from; empty for a claim without a data source.
   * Anything but a ready VolumeSnapshot of {@code driverName} is refused with a message that says
   * what to wait for or fix (a snapshot not ready yet is UNAVAILABLE: the claim is tried again).
   */
  static Optional<SnapshotHandle> of(
      KubernetesClient client, PersistentVolumeClaim pvc, String driverName, long requestedBytes) {
    TypedLocalObjectReference ref = dataSource(pvc);
    if (ref == null) {
      return Optional.empty();
    }
    String namespace = pvc.getMetadata().getNamespace();
    if (!GROUP.equals(ref.getApiGroup()) || !"VolumeSnapshot".equals(ref.getKind())) {
      throw Failure.invalid(
          "a data source of kind "
              + ref.getKind()
              + (ref.getApiGroup() == null || ref.getApiGroup().isEmpty()
                  ? ""
                  : " (" + ref.getApiGroup() + ")")
              + " is not supported: only a VolumeSnapshot ("
              + GROUP
              + ") of driver "
              + driverName
              + "; to copy a claim, take a VolumeSnapshot of it");
    }
    String shown = "VolumeSnapshot " + namespace + "/" + ref.getName();
    GenericKubernetesResource snapshot =
        client
            .genericKubernetesResources(SNAPSHOTS)
            .inNamespace(namespace)
            .withName(ref.getName())
            .get();
    if (snapshot == null) {
      throw Failure.notFound(shown + " does not exist");
    }
    String contentName = text(snapshot, "status", "boundVolumeSnapshotContentName");
    if (contentName == null || !Boolean.TRUE.equals(value(snapshot, "status", "readyToUse"))) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          shown
              + " is not ready to use yet (status.readyToUse is not true); the claim is"
              + " provisioned once it is");
    }
    GenericKubernetesResource content =
        client.genericKubernetesResources(CONTENTS).withName(contentName).get();
    if (content == null) {
      throw Failure.notFound(
          shown + " is bound to VolumeSnapshotContent " + contentName + ", which does not exist");
    }
    String driver = text(content, "spec", "driver");
    if (!driverName.equals(driver)) {
      throw Failure.invalid(shown + " is a snapshot of driver " + driver + ", not " + driverName);
    }
    // The CRD's own warning: a binding counts only when both objects point at each other.
    if (!ref.getName().equals(text(content, "spec", "volumeSnapshotRef", "name"))
        || !namespace.equals(text(content, "spec", "volumeSnapshotRef", "namespace"))) {
      throw Failure.invalid(
          shown + " names VolumeSnapshotContent " + contentName + ", which is bound to another");
    }
    String handle = text(content, "status", "snapshotHandle");
    if (handle == null) {
      handle = text(content, "spec", "source", "snapshotHandle");
    }
    if (handle == null) {
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "VolumeSnapshotContent " + contentName + " has no snapshot handle yet");
    }
    Object restoreSize = value(snapshot, "status", "restoreSize");
    if (restoreSize != null) {
      long bytes = Quantity.getAmountInBytes(new Quantity(restoreSize.toString())).longValue();
      if (requestedBytes < bytes) {
        throw Failure.invalid(
            "the claim requests "
                + requestedBytes
                + " bytes, less than the restoreSize of "
                + shown
                + " ("
                + restoreSize
                + ")");
      }
    }
    String id = handle;
    return Optional.of(
        SnapshotHandle.parse(handle)
            .orElseThrow(
                () ->
                    Failure.notFound(
                        "VolumeSnapshotContent "
                            + contentName
                            + " has snapshot handle "
                            + id
                            + ", which is not one of this driver's (<name>|<source volume id>)")));
  }

  /** dataSource, or dataSourceRef where only that is set (it may name another namespace). */
  private static TypedLocalObjectReference dataSource(PersistentVolumeClaim pvc) {
    if (pvc.getSpec().getDataSource() != null) {
      return pvc.getSpec().getDataSource();
    }
    var ref = pvc.getSpec().getDataSourceRef();
    if (ref == null) {
      return null;
    }
    if (ref.getNamespace() != null
        && !ref.getNamespace().isEmpty()
        && !ref.getNamespace().equals(pvc.getMetadata().getNamespace())) {
      throw Failure.invalid(
          "a dataSourceRef in another namespace (" + ref.getNamespace() + ") is not supported");
    }
    return new TypedLocalObjectReference(ref.getApiGroup(), ref.getKind(), ref.getName());
  }

  private static String text(GenericKubernetesResource r, String... path) {
    Object v = value(r, path);
    return v instanceof String s && !s.isEmpty() ? s : null;
  }

  private static Object value(GenericKubernetesResource r, String... path) {
    Object at = r.getAdditionalProperties();
    for (String key : path) {
      if (!(at instanceof Map<?, ?> map)) {
        return null;
      }
      at = map.get(key);
    }
    return at;
  }
}

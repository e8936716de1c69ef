package io.jfscsi.testing;

import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.util.List;
import java.util.Map;

/**
 * A static JuiceFS PV (`<namespace>-<claim>`, 10Gi ReadWriteMany, its publish Secret {@code
 * jfs-secret} in the claim's namespace) bound to a claim of that name, as the sidecar webhook's
 * cluster tests need them: the webhook reads the claim, its PV and that Secret.
 */
public final class StaticClaims {
  private StaticClaims() {}

  /** The PV's name for claim {@code name} in {@code namespace}. */
  public static String pvName(String namespace, String name) {
    return namespace + "-" + name;
  }

  /** The PVs' publish Secret {@code jfs-secret} in {@code namespace}: file system "webfs". */
  public static void secret(KubernetesClient k, String namespace, String metaurl) {
    k.secrets()
        .inNamespace(namespace)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("jfs-secret")
                .endMetadata()
                .addToStringData("name", "webfs")
                .addToStringData("metaurl", metaurl)
                .build())
        .create();
  }

  public static void bound(KubernetesClient k, String namespace, String name) {
    bound(k, namespace, name, List.of(), Map.of(), Map.of());
  }

  public static void bound(
      KubernetesClient k,
      String namespace,
      String name,
      List<String> mountOptions,
      Map<String, String> claimLabels,
      Map<String, String> volumeAttributes) {
    String pv = pvName(namespace, name);
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .withCapacity(Map.of("storage", new Quantity("10Gi")))
                .withAccessModes("ReadWriteMany")
                .withMountOptions(mountOptions)
                .withNewClaimRef()
                .withNamespace(namespace)
                .withName(name)
                .endClaimRef()
                .withNewCsi()
                .withDriver("csi.juicefs.com")
                .withVolumeHandle(pv)
                .withNewNodePublishSecretRef()
                .withName("jfs-secret")
                .withNamespace(namespace)
                .endNodePublishSecretRef()
                .withVolumeAttributes(volumeAttributes)
                .endCsi()
                .endSpec()
                .build())
        .create();
    k.persistentVolumeClaims()
        .inNamespace(namespace)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName(name)
                .withLabels(claimLabels)
                .endMetadata()
                .withNewSpec()
                .withAccessModes("ReadWriteMany")
                .withStorageClassName("")
                .withVolumeName(pv)
                .withNewResources()
                .addToRequests("storage", new Quantity("10Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
  }
}

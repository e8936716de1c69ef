package io.jfscsi.testing;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.api.model.rbac.ClusterRole;
import io.fabric8.kubernetes.api.model.rbac.ClusterRoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Role;
import io.fabric8.kubernetes.api.model.rbac.RoleBinding;
import io.fabric8.kubernetes.api.model.rbac.Subject;
import io.fabric8.kubernetes.client.KubernetesClient;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The RBAC of a manifest under deploy/ applied for one test namespace, so that a driver runs with
 * exactly the rights the manifest grants: its ServiceAccount and namespaced Roles and RoleBindings
 * in that namespace, its ClusterRoles and ClusterRoleBindings cluster-wide under names suffixed
 * with the namespace (so test classes do not clash), every binding's subject the namespace's
 * ServiceAccount. Cluster-wide objects carry the label {@link #TEST_NS_LABEL}.
 */
public final class ManifestRbac {
  private ManifestRbac() {}

  public static final String TEST_NS_LABEL = "jfs-csi.io/test-ns";

  /**
   * Applies the RBAC objects of {@code manifest} (e.g. deploy/base/rbac-node.yaml) for {@code
   * namespace} and writes a kubeconfig of its ServiceAccount to {@code kubeconfigFile}.
   */
  public static Path bind(KubeCluster cluster, String namespace, Path manifest, Path kubeconfigFile)
      throws IOException {
    KubernetesClient kube = cluster.client();
    List<HasMetadata> objects;
    try (InputStream in = Files.newInputStream(manifest)) {
      objects = kube.load(in).items();
    }
    List<String> accounts =
        objects.stream()
            .filter(o -> o instanceof ServiceAccount)
            .map(o -> o.getMetadata().getName())
            .toList();
    if (accounts.size() != 1) {
      throw new IllegalArgumentException(
          manifest + " must hold exactly one ServiceAccount, not " + accounts);
    }
    String account = accounts.getFirst();
    Subject subject = new Subject(null, "ServiceAccount", account, namespace);
    for (HasMetadata o : objects) {
      o.getMetadata().setLabels(Map.of(TEST_NS_LABEL, namespace));
      o.getMetadata().setNamespace(null);
      switch (o) {
        case ServiceAccount sa ->
            kube.serviceAccounts().inNamespace(namespace).resource(sa).create();
        case ClusterRole r -> {
          r.getMetadata().setName(r.getMetadata().getName() + "-" + namespace);
          kube.rbac().clusterRoles().resource(r).create();
        }
        case ClusterRoleBinding b -> {
          b.getMetadata().setName(b.getMetadata().getName() + "-" + namespace);
          b.getRoleRef().setName(b.getRoleRef().getName() + "-" + namespace);
          b.setSubjects(List.of(subject));
          kube.rbac().clusterRoleBindings().resource(b).create();
        }
        case Role r -> kube.rbac().roles().inNamespace(namespace).resource(r).create();
        case RoleBinding b -> {
          b.setSubjects(List.of(subject));
          kube.rbac().roleBindings().inNamespace(namespace).resource(b).create();
        }
        default ->
            throw new IllegalArgumentException("unexpected " + o.getKind() + " in " + manifest);
      }
    }
    return cluster.writeServiceAccountKubeconfig(namespace, account, kubeconfigFile);
  }

  /** Deletes the cluster-wide objects {@link #bind} made for {@code namespace}. */
  public static void deleteClusterWide(KubernetesClient kube, String namespace) {
    kube.rbac().clusterRoleBindings().withLabel(TEST_NS_LABEL, namespace).delete();
    kube.rbac().clusterRoles().withLabel(TEST_NS_LABEL, namespace).delete();
  }
}

package io.jfscsi.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.fail;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Namespaced;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * Every object of deploy/base and deploy/examples (rendered with {@code kubectl kustomize}),
 * submitted to the real kube-apiserver v1.20.2 with a server-side dry run: its validation and
 * admission must accept it, and it must keep every field we wrote (1.20 prunes unknown fields
 * silently instead of rejecting them, so a field newer than the server would vanish unnoticed).
 *
 * <p>Namespaced objects go to fresh namespaces (jfs-csi and default are mapped), so that the dry
 * run does not depend on what other tests left in the shared control plane. An object that already
 * exists for real is checked with a dry-run server-side apply instead of a create.
 */
class ManifestsDryRunTest {

  @TestFactory
  Stream<DynamicTest> base_objects_are_accepted_by_the_api_server() throws Exception {
    return dryRunAll(Path.of("deploy/base"));
  }

  @TestFactory
  Stream<DynamicTest> example_objects_are_accepted_by_the_api_server() throws Exception {
    return dryRunAll(Path.of("deploy/examples"));
  }

  @TestFactory
  Stream<DynamicTest> webhook_overlay_objects_are_accepted_by_the_api_server() throws Exception {
    return dryRunAll(Path.of("deploy/overlays/webhook"));
  }

  private Stream<DynamicTest> dryRunAll(Path dir) throws Exception {
    Path kubectl = ManifestsTest.onPath("kubectl").orElse(null);
    HostRequirements.require(kubectl != null, "kubectl (apt-get install kubernetes-client)");
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String rendered = ManifestsTest.kustomize(kubectl, dir);
    List<HasMetadata> objects =
        k.load(new ByteArrayInputStream(rendered.getBytes(StandardCharsets.UTF_8))).items();
    assertThat(objects).as("objects rendered from %s", dir).isNotEmpty();
    Map<String, String> namespaces =
        Map.of(
            "jfs-csi", cluster.newNamespace("dryrun-jfs-csi"),
            "default", cluster.newNamespace("dryrun-default"));
    List<DynamicTest> tests = new ArrayList<>();
    for (HasMetadata object : objects) {
      String name = object.getKind() + "/" + object.getMetadata().getName();
      tests.add(DynamicTest.dynamicTest(name, () -> dryRun(k, object, namespaces)));
    }
    return tests.stream();
  }

  @SuppressWarnings("unchecked")
  private static void dryRun(
      KubernetesClient k, HasMetadata object, Map<String, String> namespaces) {
    HasMetadata submitted = k.getKubernetesSerialization().clone(object);
    if (submitted instanceof Namespaced) {
      String ns = Optional.ofNullable(submitted.getMetadata().getNamespace()).orElse("default");
      submitted.getMetadata().setNamespace(namespaces.getOrDefault(ns, ns));
    }
    HasMetadata accepted;
    try {
      accepted = k.resource(submitted).dryRun().create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        fail(
            "the API server rejects "
                + describe(object)
                + ": "
                + e.getCode()
                + " "
                + Optional.ofNullable(e.getStatus())
                    .map(s -> s.getMessage())
                    .orElse(e.getMessage()));
        return;
      }
      try {
        accepted =
            k.resource(submitted)
                .dryRun()
                .fieldManager("jfs-csi-dry-run")
                .forceConflicts()
                .serverSideApply();
      } catch (KubernetesClientException e2) {
        fail(
            "the API server rejects "
                + describe(object)
                + " (server-side apply): "
                + e2.getCode()
                + " "
                + Optional.ofNullable(e2.getStatus())
                    .map(s -> s.getMessage())
                    .orElse(e2.getMessage()));
        return;
      }
    }
    Map<String, Object> in = k.getKubernetesSerialization().convertValue(submitted, Map.class);
    Map<String, Object> out = k.getKubernetesSerialization().convertValue(accepted, Map.class);
    List<String> lost = new ArrayList<>();
    missing("", in, out, lost);
    assertThat(lost)
        .as("fields of %s that the API server dropped or changed", describe(object))
        .isEmpty();
  }

  /** Paths of {@code in} that are absent from, or different in, {@code out}. */
  @SuppressWarnings("unchecked")
  private static void missing(String path, Object in, Object out, List<String> lost) {
    if (IGNORED.contains(path)) {
      return;
    }
    if (in instanceof Map<?, ?> mi) {
      if (!(out instanceof Map<?, ?> mo)) {
        lost.add(path + " (not an object any more: " + out + ")");
        return;
      }
      for (Map.Entry<?, ?> e : mi.entrySet()) {
        String key = String.valueOf(e.getKey());
        String p = path.isEmpty() ? key : path + "." + key;
        if (IGNORED.contains(p) || isEmpty(e.getValue())) {
          continue; // "" and empty collections are omitted on the wire
        }
        if (!mo.containsKey(key)) {
          lost.add(p);
        } else {
          missing(p, e.getValue(), mo.get(key), lost);
        }
      }
    } else if (in instanceof List<?> li) {
      // Admission may append (the ServiceAccount token volume and its mount).
      if (!(out instanceof List<?> lo) || lo.size() < li.size()) {
        lost.add(path + " (a list of " + li.size() + ", now " + out + ")");
        return;
      }
      for (int i = 0; i < li.size(); i++) {
        missing(path + "[" + i + "]", li.get(i), lo.get(i), lost);
      }
    } else if (!sameScalar(in, out)) {
      lost.add(path + " (" + in + " -> " + out + ")");
    }
  }

  private static boolean isEmpty(Object v) {
    return v == null
        || "".equals(v)
        || v instanceof Map<?, ?> m && m.isEmpty()
        || v instanceof List<?> l && l.isEmpty();
  }

  private static boolean sameScalar(Object in, Object out) {
    return Objects.equals(in, out) || Objects.equals(String.valueOf(in), String.valueOf(out));
  }

  /** Paths that the server rewrites on purpose (stringData becomes data). */
  private static final Set<String> IGNORED =
      Set.of("metadata.namespace", "metadata.creationTimestamp", "stringData");

  private static String describe(HasMetadata o) {
    return o.getKind() + " " + o.getMetadata().getName();
  }
}

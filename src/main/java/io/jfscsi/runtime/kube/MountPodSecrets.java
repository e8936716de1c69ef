package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.core.JacksonException;
import tools.jackson.core.type.TypeReference;
import tools.jackson.databind.ObjectMapper;

/**
 * The Secrets of this node's Mount Pods in the API server: ours ({@link MountPodSecret}, one per
 * client, written at create and deleted with the last pod that reads it) and the Go driver's (read
 * only). The raw secret maps of ours are kept in memory, so each is read at most once.
 */
final class MountPodSecrets {
  private static final Logger log = LoggerFactory.getLogger(MountPodSecrets.class);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final KubernetesClient client;
  private final String namespace;
  private final MountPodWatch pods;

  /** Raw secret maps by Secret name (ours are written by us; read once at load otherwise). */
  private final Map<String, Map<String, String>> values = new ConcurrentHashMap<>();

  MountPodSecrets(KubernetesClient client, String namespace, MountPodWatch pods) {
    this.client = client;
    this.namespace = namespace;
    this.pods = pods;
  }

  /** Creates the Secret, or overwrites one of the same name (a stale one left behind). */
  void ensure(MountPodSecret secret) {
    Secret s = secret.toSecret(namespace);
    try {
      client.secrets().inNamespace(namespace).resource(s).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw new Failure(
            Failure.Code.UNAVAILABLE,
            "cannot create Secret "
                + secret.name()
                + " in namespace "
                + namespace
                + ": "
                + e.getStatus().getMessage(),
            e);
      }
      // Same name, same key: the same values, unless a stale one was left behind. Overwrite.
      client.secrets().inNamespace(namespace).resource(s).update();
    }
    values.put(secret.name(), Map.copyOf(fromJson(secret.data().get(MountPodSecret.SOURCE_KEY))));
  }

  /**
   * The raw secret map of our Secret {@code name}: from memory, or read once from the API server.
   */
  Optional<Map<String, String>> values(String name) {
    Map<String, String> known = values.get(name);
    if (known != null) {
      return Optional.of(known);
    }
    Secret secret = read(name);
    Optional<Map<String, String>> raw =
        secret == null ? Optional.empty() : MountPodSecret.sourceSecrets(secret);
    raw.ifPresent(r -> values.put(name, Map.copyOf(r)));
    return raw;
  }

  /** The Secret {@code name} as the API server has it now, or {@code null}. */
  Secret read(String name) {
    return client.secrets().inNamespace(namespace).withName(name).get();
  }

  /**
   * Deletes our Secret {@code secret} unless a Mount Pod other than {@code stoppedPod} reads it. A
   * Go driver's Secret belongs to its PV and is left alone.
   */
  void deleteIfUnused(String secret, String stoppedPod) {
    if (!secret.startsWith("jfs-csi-")) {
      return; // the Go driver's Secret belongs to its PV
    }
    boolean used =
        pods.all().stream()
            .anyMatch(
                p ->
                    !p.getMetadata().getName().equals(stoppedPod)
                        && secretOf(p).filter(secret::equals).isPresent());
    if (used) {
      return;
    }
    try {
      client.secrets().inNamespace(namespace).withName(secret).delete();
    } catch (KubernetesClientException e) {
      log.warn("cannot delete Secret {}: {}", secret, e.getMessage());
    }
    values.remove(secret);
  }

  /** The name of the Secret {@code pod} reads its secret values from. */
  static Optional<String> secretOf(Pod pod) {
    return PodSource.parse(PodReferences.annotations(pod).get(MountPodNames.SOURCE))
        .map(PodSource::secret)
        .or(() -> GoMountPods.secretName(pod));
  }

  private static Map<String, String> fromJson(String json) {
    try {
      return JSON.readValue(json, new TypeReference<Map<String, String>>() {});
    } catch (JacksonException e) {
      throw new IllegalStateException(e);
    }
  }
}

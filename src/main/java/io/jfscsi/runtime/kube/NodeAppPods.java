package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An informer of every pod bound to this node, indexed by UID, to tell whether the pod a target
 * belongs to ({@code <kubelet>/pods/<uid>/volumes/...}) still exists: a lost unpublish leaves a
 * reference whose pod is gone. A UID must be missing at two checks at least {@code grace} apart
 * before it counts as gone, so that a pod the informer has not seen yet is never taken for one.
 */
final class NodeAppPods implements AutoCloseable {
  private static final Pattern POD_UID = Pattern.compile("/pods/([^/]+)/volumes/");
  static final String UID_INDEX = "uid";

  private final SharedIndexInformer<Pod> informer;
  private final Duration grace;
  private final Clock clock;
  private final Map<String, Instant> missingSince = new ConcurrentHashMap<>();

  NodeAppPods(KubernetesClient client, String node, Duration grace, Clock clock) {
    this.grace = grace;
    this.clock = clock;
    this.informer =
        client.pods().inAnyNamespace().withField("spec.nodeName", node).runnableInformer(0);
    informer.addIndexers(Map.of(UID_INDEX, p -> List.of(p.getMetadata().getUid())));
    KubeClients.retryForever(informer, "the pods of node " + node);
    informer.start();
  }

  boolean synced() {
    return informer.hasSynced();
  }

  /** The pod UID in a CSI target path, if it has one. */
  static Optional<String> uidOf(Path target) {
    Matcher m = POD_UID.matcher(target.toString());
    return m.find() ? Optional.of(m.group(1)) : Optional.empty();
  }

  /** This node's pod with UID {@code uid}, as the informer knows it. */
  Optional<Pod> pod(String uid) {
    return informer.getIndexer().byIndex(UID_INDEX, uid).stream().findFirst();
  }

  /** Whether the pod of {@code target} is known to be gone from this node. */
  boolean gone(Path target) {
    Optional<String> uid = uidOf(target);
    if (uid.isEmpty() || !synced()) {
      return false;
    }
    if (!informer.getIndexer().byIndex(UID_INDEX, uid.get()).isEmpty()) {
      missingSince.remove(uid.get());
      return false;
    }
    Instant now = clock.instant();
    Instant since = missingSince.putIfAbsent(uid.get(), now);
    if (since == null || Duration.between(since, now).compareTo(grace) < 0) {
      return false;
    }
    missingSince.remove(uid.get());
    return true;
  }

  @Override
  public void close() {
    informer.close();
  }
}

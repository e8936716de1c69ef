package io.jfscsi.runtime.kube;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Set;

/**
 * Configuration of {@link KubeMountRuntime} (the {@code jfs-csi.kubernetes} section, with the node
 * name and mount root of the driver).
 *
 * @param nodeName the Kubernetes node this driver serves (Mount Pods are pinned to it)
 * @param namespace where Mount Pods, their Secrets and cache-clean Jobs live
 * @param mountImage the image of Mount Pods unless a volume names one ({@code juicefs/mount-image})
 * @param priorityClass the priority class of Mount Pods ("" for none)
 * @param kubeconfig a kubeconfig file; "" lets fabric8 find the configuration (in-cluster service
 *     account, KUBECONFIG, ~/.kube/config)
 * @param podReadyTimeout how long a Mount Pod may take until it runs and its mount answers
 * @param terminationGrace the Mount Pods' terminationGracePeriodSeconds
 * @param mountRoot the host directory under which Mount Pods mount (the same path inside)
 * @param configMap the name of the Go driver's global ConfigMap in {@code namespace}
 * @param preemptionPolicy the preemption policy of Mount Pods ("" for the API server's default)
 * @param mountServiceAccount the account of Mount Pods whose volume names none, without its API
 *     token ("" for the namespace's default account)
 * @param fuseFdDir the host directory of the clients' FUSE fd sockets (smooth upgrade; the Go
 *     driver's /var/run/juicefs-csi), "" to give Mount Pods none
 */
public record KubeRuntimeConfig(
    String nodeName,
    String namespace,
    String mountImage,
    String priorityClass,
    String kubeconfig,
    Duration podReadyTimeout,
    Duration terminationGrace,
    Path mountRoot,
    String configMap,
    String preemptionPolicy,
    String mountServiceAccount,
    String fuseFdDir) {

  /** The Go driver's directory of FUSE fd sockets, where {@code deploy/} mounts one. */
  public static final String GO_FUSE_FD_DIR = "/var/run/juicefs-csi";

  /** What {@code JUICEFS_MOUNT_PREEMPTION_POLICY} may say, as in Kubernetes' PodSpec. */
  static final Set<String> PREEMPTION_POLICIES = Set.of("", "PreemptLowerPriority", "Never");

  private static final String DNS_SUBDOMAIN =
      "[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*";

  /** The Go driver's name of its global ConfigMap ({@code JUICEFS_CONFIG_NAME}). */
  public static final String DEFAULT_CONFIG_MAP = "juicefs-csi-driver-config";

  /**
   * With the default name of the global ConfigMap, the API server's preemption policy, the
   * namespace's default account and no FUSE fd sockets (smooth upgrade is opt-in).
   */
  public KubeRuntimeConfig(
      String nodeName,
      String namespace,
      String mountImage,
      String priorityClass,
      String kubeconfig,
      Duration podReadyTimeout,
      Duration terminationGrace,
      Path mountRoot) {
    this(
        nodeName,
        namespace,
        mountImage,
        priorityClass,
        kubeconfig,
        podReadyTimeout,
        terminationGrace,
        mountRoot,
        DEFAULT_CONFIG_MAP,
        "",
        "",
        "");
  }

  public KubeRuntimeConfig {
    Objects.requireNonNull(nodeName, "nodeName");
    Objects.requireNonNull(namespace, "namespace");
    Objects.requireNonNull(mountImage, "mountImage");
    Objects.requireNonNull(priorityClass, "priorityClass");
    Objects.requireNonNull(kubeconfig, "kubeconfig");
    Objects.requireNonNull(configMap, "configMap");
    if (nodeName.isBlank()) {
      throw new IllegalArgumentException(
          "the node name must be set (jfs-csi.node-id / NODE_NAME)"
              + " for the kubernetes runtime");
    }
    if (podReadyTimeout.isNegative() || podReadyTimeout.isZero()) {
      throw new IllegalArgumentException("jfs-csi.kubernetes.pod-ready-timeout must be positive");
    }
    if (!PREEMPTION_POLICIES.contains(preemptionPolicy)) {
      throw new IllegalArgumentException(
          "jfs-csi.kubernetes.preemption-policy (JUICEFS_MOUNT_PREEMPTION_POLICY) = '"
              + preemptionPolicy
              + "' is not a preemption policy: use PreemptLowerPriority, Never or \"\"");
    }
    if (!priorityClass.isEmpty()
        && (priorityClass.length() > 253 || !priorityClass.matches(DNS_SUBDOMAIN))) {
      throw new IllegalArgumentException(
          "jfs-csi.kubernetes.priority-class (JUICEFS_MOUNT_PRIORITY_NAME) = '"
              + priorityClass
              + "' is not a PriorityClass name (a lower-case DNS name), nor \"\" for none");
    }
    if (!mountServiceAccount.isEmpty()
        && (mountServiceAccount.length() > 253 || !mountServiceAccount.matches(DNS_SUBDOMAIN))) {
      throw new IllegalArgumentException(
          "jfs-csi.kubernetes.mount-service-account (JUICEFS_MOUNT_SERVICE_ACCOUNT) = '"
              + mountServiceAccount
              + "' is not a ServiceAccount name (a lower-case DNS name), nor \"\" for the"
              + " namespace's default");
    }
    if (!fuseFdDir.isEmpty() && !Path.of(fuseFdDir).isAbsolute()) {
      throw new IllegalArgumentException(
          "jfs-csi.kubernetes.fuse-fd-dir = '" + fuseFdDir + "' must be an absolute path or \"\"");
    }
    mountRoot = mountRoot.toAbsolutePath().normalize();
  }

  /** From the {@code jfs-csi} section. */
  public static KubeRuntimeConfig from(Config c, String nodeName) {
    Config k = c.getConfig("kubernetes");
    return new KubeRuntimeConfig(
        nodeName,
        k.getString("namespace"),
        k.getString("mount-image"),
        k.getString("priority-class"),
        k.getString("kubeconfig"),
        k.getDuration("pod-ready-timeout"),
        k.getDuration("termination-grace"),
        Path.of(c.getString("mount-root")),
        k.getString("config-map"),
        k.getString("preemption-policy"),
        k.getString("mount-service-account"),
        k.getString("fuse-fd-dir"));
  }

  public KubeRuntimeConfig withPodReadyTimeout(Duration timeout) {
    return new KubeRuntimeConfig(
        nodeName,
        namespace,
        mountImage,
        priorityClass,
        kubeconfig,
        timeout,
        terminationGrace,
        mountRoot,
        configMap,
        preemptionPolicy,
        mountServiceAccount,
        fuseFdDir);
  }
}

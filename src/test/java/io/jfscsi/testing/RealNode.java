package io.jfscsi.testing;

import io.fabric8.kubernetes.api.model.apps.DaemonSet;
import io.fabric8.kubernetes.api.model.apps.Deployment;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * The real single node of {@code bin/node-up} (kubelet, containerd, scheduler, control plane), with
 * the driver's images built and imported by {@code bin/build-images} and {@code
 * deploy/overlays/local-node} applied: the driver runs in containers under a real kubelet.
 *
 * <p>{@link #shared()} brings it up once per JVM, or finds it up. A node this JVM started goes down
 * again when the JVM exits ({@code bin/node-up --down}); one found up keeps running. It needs root,
 * the binaries of {@code bin/kube-build} and the jar ({@code ./mvnw package}; bin/test builds it
 * first): without them the test is skipped loudly, or fails under CI=true.
 */
public final class RealNode {
  public static final String NAMESPACE = "jfs-csi";
  public static final String NODE_NAME = "jfs-csi-node";

  private static RealNode shared;
  private static RuntimeException sharedFailure;

  private final Path root;
  private final Path kubeconfig;
  private final KubernetesClient client;

  /** What bringing it up took, for the figures in docs (node, images, driver Ready). */
  private final String timings;

  private RealNode(Path root, Path kubeconfig, String timings) {
    this.root = root;
    this.kubeconfig = kubeconfig;
    Config fromFile = Config.fromKubeconfig(kubeconfig.toFile());
    this.client =
        new KubernetesClientBuilder()
            .withConfig(
                KubeCluster.tokenConfig(
                    fromFile.getMasterUrl(),
                    fromFile.getAutoOAuthToken() != null
                        ? fromFile.getAutoOAuthToken()
                        : fromFile.getOauthToken(),
                    "default"))
            .build();
    this.timings = timings;
  }

  public static synchronized RealNode shared() {
    if (shared != null) {
      return shared;
    }
    Path root = KubeCluster.projectRoot();
    HostRequirements.require(HostRequirements.isRoot(), "root (a real kubelet and containerd)");
    HostRequirements.require(
        Files.isExecutable(KubeCluster.CACHE.resolve("kubelet"))
            && Files.isExecutable(KubeCluster.CACHE.resolve("kube-scheduler"))
            && Files.isExecutable(KubeCluster.CACHE.resolve("kube-apiserver")),
        "kubelet, kube-scheduler and kube-apiserver v1.20.2 in "
            + KubeCluster.CACHE
            + ": run bin/kube-build");
    HostRequirements.require(
        Files.isRegularFile(root.resolve("target/jfs-csi.jar")),
        "target/jfs-csi.jar for the driver image: ./mvnw -DskipTests package (bin/test does)");
    if (sharedFailure != null) {
      throw sharedFailure;
    }
    try {
      boolean wasUp = status(root).isPresent();
      Instant t0 = Instant.now();
      Path kubeconfig =
          Path.of(KubeCluster.run(root, Duration.ofMinutes(6), "bin/node-up").strip());
      Instant t1 = Instant.now();
      if (!wasUp) {
        Runtime.getRuntime()
            .addShutdownHook(
                new Thread(
                    () -> {
                      try {
                        KubeCluster.run(root, Duration.ofMinutes(3), "bin/node-up", "--down");
                      } catch (RuntimeException e) {
                        System.err.println(
                            "RealNode: bin/node-up --down failed: " + e.getMessage());
                      }
                    },
                    "real-node-down"));
      }
      KubeCluster.run(root, Duration.ofMinutes(10), "bin/build-images");
      Instant t2 = Instant.now();
      kubectl(root, kubeconfig, "apply", "-k", "deploy/overlays/local-node");
      RealNode node = new RealNode(root, kubeconfig, "");
      node.runCurrentImage();
      node.awaitDriverReady(Duration.ofMinutes(4));
      Instant t3 = Instant.now();
      String timings =
          String.format(
              "node %s %ds, images %ds, driver Ready %ds",
              wasUp ? "found up" : "up",
              Duration.between(t0, t1).toSeconds(),
              Duration.between(t1, t2).toSeconds(),
              Duration.between(t2, t3).toSeconds());
      System.err.println("RealNode: " + timings);
      shared = new RealNode(root, kubeconfig, timings);
      return shared;
    } catch (RuntimeException e) {
      sharedFailure = e;
      throw e;
    }
  }

  private static Optional<String> status(Path root) {
    try {
      return Optional.of(
          KubeCluster.run(root, Duration.ofSeconds(60), "bin/node-up", "--status").strip());
    } catch (IllegalStateException e) {
      return Optional.empty();
    }
  }

  static String kubectl(Path root, Path kubeconfig, String... args) {
    String[] argv = new String[args.length + 3];
    argv[0] = kubectlBinary();
    argv[1] = "--kubeconfig";
    argv[2] = kubeconfig.toString();
    System.arraycopy(args, 0, argv, 3, args.length);
    return KubeCluster.run(root, Duration.ofMinutes(2), argv);
  }

  /** kubectl from PATH, as an absolute path (the script runner resolves relative ones). */
  private static String kubectlBinary() {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, "kubectl"))) {
        return Path.of(d, "kubectl").toAbsolutePath().toString();
      }
    }
    throw new IllegalStateException("kubectl is not on PATH (apt-get install kubernetes-client)");
  }

  /** Runs kubectl against this node. */
  public String kubectl(String... args) {
    return kubectl(root, kubeconfig, args);
  }

  /**
   * A driver already running from an older image (the node found up, the jar rebuilt) is replaced:
   * the image's inputs go into the pod templates, so the Deployment rolls out, and node plugin pods
   * of an older template (the DaemonSet updates OnDelete) are deleted.
   */
  void runCurrentImage() {
    String inputs;
    try {
      inputs =
          Files.readString(
                  Path.of(
                      Optional.ofNullable(System.getenv("IMAGE_CACHE"))
                          .orElse("/var/cache/jfs-csi/images"),
                      "jfs-csi.tar.inputs"))
              .strip();
    } catch (IOException e) {
      throw new IllegalStateException("bin/build-images left no jfs-csi.tar.inputs", e);
    }
    String patch =
        "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"jfs-csi.io/image-inputs\":\""
            + inputs
            + "\"}}}}}";
    kubectl("-n", NAMESPACE, "patch", "daemonset", "jfs-csi-node", "--type=strategic", "-p", patch);
    kubectl(
        "-n",
        NAMESPACE,
        "patch",
        "deployment",
        "jfs-csi-controller",
        "--type=strategic",
        "-p",
        patch);
    DaemonSet ds = client.apps().daemonSets().inNamespace(NAMESPACE).withName("jfs-csi-node").get();
    String generation = String.valueOf(ds.getMetadata().getGeneration());
    client
        .pods()
        .inNamespace(NAMESPACE)
        .withLabel("app.kubernetes.io/component", "node")
        .withLabel("app.kubernetes.io/name", "jfs-csi")
        .list()
        .getItems()
        .stream()
        .filter(p -> !generation.equals(p.getMetadata().getLabels().get("pod-template-generation")))
        .forEach(p -> client.pods().inNamespace(NAMESPACE).resource(p).delete());
  }

  /** The node plugin's DaemonSet and the controller's Deployment have every pod Ready. */
  public void awaitDriverReady(Duration timeout) {
    Instant deadline = Instant.now().plus(timeout);
    while (true) {
      DaemonSet ds =
          client.apps().daemonSets().inNamespace(NAMESPACE).withName("jfs-csi-node").get();
      Deployment dep =
          client.apps().deployments().inNamespace(NAMESPACE).withName("jfs-csi-controller").get();
      boolean nodeReady =
          ds != null
              && ds.getStatus() != null
              && ds.getStatus().getDesiredNumberScheduled() != null
              && ds.getStatus().getDesiredNumberScheduled() > 0
              && ds.getStatus().getDesiredNumberScheduled().equals(ds.getStatus().getNumberReady())
              && ds.getStatus()
                  .getDesiredNumberScheduled()
                  .equals(ds.getStatus().getUpdatedNumberScheduled())
              && ds.getStatus()
                  .getDesiredNumberScheduled()
                  .equals(ds.getStatus().getCurrentNumberScheduled())
              && Objects.equals(
                  ds.getStatus().getObservedGeneration(), ds.getMetadata().getGeneration());
      boolean controllerReady =
          dep != null
              && dep.getStatus() != null
              && dep.getStatus().getReadyReplicas() != null
              && dep.getStatus().getReadyReplicas().equals(dep.getSpec().getReplicas())
              && dep.getSpec().getReplicas().equals(dep.getStatus().getUpdatedReplicas())
              && dep.getSpec().getReplicas().equals(dep.getStatus().getReplicas())
              && Objects.equals(
                  dep.getStatus().getObservedGeneration(), dep.getMetadata().getGeneration());
      if (nodeReady && controllerReady) {
        return;
      }
      if (Instant.now().isAfter(deadline)) {
        throw new IllegalStateException(
            "the driver is not Ready after "
                + timeout
                + ": node "
                + (ds == null ? "missing" : ds.getStatus())
                + ", controller "
                + (dep == null ? "missing" : dep.getStatus())
                + "\n"
                + kubectl("get", "pods", "-A", "-o", "wide")
                + kubectl("get", "events", "-n", NAMESPACE));
      }
      sleep(Duration.ofSeconds(1));
    }
  }

  public KubernetesClient client() {
    return client;
  }

  public Path kubeconfig() {
    return kubeconfig;
  }

  /**
   * A client with the rights of ServiceAccount {@code account} of {@code namespace} only (its token
   * Secret, as Kubernetes 1.20 makes one per account), to run driver code in a test with exactly
   * what deploy/ grants it. The caller closes it.
   */
  public KubernetesClient clientAs(String namespace, String account) {
    var sa = client.serviceAccounts().inNamespace(namespace).withName(account).get();
    Objects.requireNonNull(sa, "ServiceAccount " + namespace + "/" + account);
    String secret = sa.getSecrets().getFirst().getName();
    String token =
        new String(
            java.util.Base64.getDecoder()
                .decode(
                    client
                        .secrets()
                        .inNamespace(namespace)
                        .withName(secret)
                        .get()
                        .getData()
                        .get("token")),
            java.nio.charset.StandardCharsets.UTF_8);
    return new KubernetesClientBuilder()
        .withConfig(
            KubeCluster.tokenConfig(client.getConfiguration().getMasterUrl(), token, namespace))
        .build();
  }

  public Path projectDirectory() {
    return root;
  }

  public String timings() {
    return timings;
  }

  static void sleep(Duration d) {
    try {
      Thread.sleep(d.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }
}

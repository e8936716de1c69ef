package io.jfscsi.testing;

import io.fabric8.kubernetes.api.model.Namespace;
import io.fabric8.kubernetes.api.model.NamespaceBuilder;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.NodeBuilder;
import io.fabric8.kubernetes.api.model.NodeCondition;
import io.fabric8.kubernetes.api.model.NodeConditionBuilder;
import io.fabric8.kubernetes.api.model.NodeStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.ServiceAccount;
import io.fabric8.kubernetes.client.Config;
import io.fabric8.kubernetes.client.ConfigBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * A real Kubernetes control plane for cluster tests: etcd, kube-apiserver and
 * kube-controller-manager v1.20.2 on loopback, started by {@code bin/kube-up}. There is no kubelet
 * and no scheduler: a test creates a Node ({@link #createNode}), binds its pods to it ({@code
 * spec.nodeName}) and runs them with a {@link KubeletStandIn}.
 *
 * <p>{@link #shared()} starts the control plane once per JVM, or uses the one already up (a
 * developer's {@code bin/kube-up}, or another test JVM's). The JVM registers as a user ({@code
 * bin/kube-up --use PID}) and releases it on exit; a control plane started for test JVMs stops when
 * its last JVM exits, one started by hand keeps running. Several JVMs (work trees) share one
 * control plane, so tests isolate themselves with {@link #newNamespace} and unique node names.
 *
 * <p>The binaries come from {@code bin/kube-build} (10-15 minutes cold). When they are missing,
 * {@link #shared()} skips the test loudly, or fails it when CI=true, like {@link HostRequirements}.
 */
public final class KubeCluster {
  /** Where bin/kube-build puts the binaries (KUBE_CACHE overrides, as for the scripts). */
  public static final Path CACHE =
      Path.of(
          Optional.ofNullable(System.getenv("KUBE_CACHE"))
              .orElse("/var/cache/jfs-csi/kube-1.20.2"));

  private static final Duration START_TIMEOUT = Duration.ofMinutes(4);
  private static KubeCluster shared;
  private static RuntimeException sharedFailure;

  private final Path root;
  private final Path kubeconfig;
  private final Config config;
  private final KubernetesClient client;

  private KubeCluster(Path root, Path kubeconfig) {
    this.root = root;
    this.kubeconfig = kubeconfig;
    Config fromFile = Config.fromKubeconfig(kubeconfig.toFile());
    this.config =
        tokenConfig(
            fromFile.getMasterUrl(),
            fromFile.getAutoOAuthToken() != null
                ? fromFile.getAutoOAuthToken()
                : fromFile.getOauthToken(),
            "default");
    this.client = new KubernetesClientBuilder().withConfig(config).build();
  }

  /**
   * The control plane of this JVM: started (or found up) on the first call. Skips the calling test
   * (fails it under CI=true) when the binaries are not built; throws when they are but the control
   * plane does not come up.
   */
  public static synchronized KubeCluster shared() {
    if (shared != null) {
      return shared;
    }
    Path root = projectRoot();
    HostRequirements.require(
        Files.isExecutable(CACHE.resolve("kube-apiserver"))
            && Files.isExecutable(CACHE.resolve("kube-controller-manager")),
        "kube-apiserver and kube-controller-manager v1.20.2 in "
            + CACHE
            + ": run bin/kube-build (builds them from Debian's source package once, 10-15 minutes cold)");
    HostRequirements.require(
        onPath("etcd") || HostRequirements.isRoot(),
        "etcd (apt-get install etcd-server; bin/kube-up installs it when run as root)");
    if (sharedFailure != null) {
      throw sharedFailure;
    }
    try {
      String pid = Long.toString(ProcessHandle.current().pid());
      Path kubeconfig = Path.of(run(root, START_TIMEOUT, "bin/kube-up", "--use", pid).strip());
      Runtime.getRuntime()
          .addShutdownHook(
              new Thread(
                  () -> {
                    try {
                      run(root, Duration.ofSeconds(60), "bin/kube-up", "--release", pid);
                    } catch (RuntimeException e) {
                      System.err.println(
                          "KubeCluster: releasing the control plane failed: " + e.getMessage());
                    }
                  },
                  "kube-cluster-release"));
      shared = new KubeCluster(root, kubeconfig);
      return shared;
    } catch (RuntimeException e) {
      sharedFailure = e;
      throw e;
    }
  }

  /** A client with the admin token (group system:masters). Shared: do not close it. */
  public KubernetesClient client() {
    return client;
  }

  /** The admin client's configuration (a copy each call; default namespace "default"). */
  public Config config() {
    return new ConfigBuilder(config).build();
  }

  /** The admin kubeconfig, for kubectl or a driver process. */
  public Path kubeconfig() {
    return kubeconfig;
  }

  /** The API server's URL, https://127.0.0.1:PORT. */
  public String masterUrl() {
    return config.getMasterUrl();
  }

  /** The project directory that holds bin/kube-up. */
  public Path projectDirectory() {
    return root;
  }

  /**
   * Creates a namespace named {@code prefix-xxxxx} and waits until its "default" ServiceAccount has
   * its token (the ServiceAccount admission plugin rejects pods before that). Returns its name.
   */
  public String newNamespace(String prefix) {
    String base =
        prefix.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9-]", "-").replaceAll("^-+|-+$", "");
    if (base.isEmpty()) {
      base = "test";
    }
    if (base.length() > 50) {
      base = base.substring(0, 50);
    }
    String name = base + "-" + randomSuffix();
    Namespace ns =
        new NamespaceBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels("jfs-csi.io/test", "true")
            .endMetadata()
            .build();
    client.namespaces().resource(ns).create();
    serviceAccountToken(name, "default");
    return name;
  }

  /**
   * Creates (or updates) a Node named {@code name} whose status says Ready, with the usual labels
   * and loopback address, as kubelet would register it. No controller marks it NotReady (the node
   * lifecycle controller is not running).
   */
  public void createNode(String name) {
    Node node =
        new NodeBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels("kubernetes.io/hostname", name)
            .addToLabels("kubernetes.io/os", "linux")
            .addToLabels("kubernetes.io/arch", "amd64")
            .endMetadata()
            .withNewSpec()
            .endSpec()
            .build();
    Node existing = client.nodes().withName(name).get();
    Node current = existing != null ? existing : client.nodes().resource(node).create();
    var endpoints = current.getStatus() == null ? null : current.getStatus().getDaemonEndpoints();
    String now = Instant.now().toString().replaceFirst("\\.\\d+Z$", "Z");
    NodeCondition ready =
        new NodeConditionBuilder()
            .withType("Ready")
            .withStatus("True")
            .withReason("KubeletReady")
            .withMessage("kubelet stand-in")
            .withLastHeartbeatTime(now)
            .withLastTransitionTime(now)
            .build();
    Map<String, Quantity> capacity =
        Map.of(
            "cpu",
            new Quantity("8"),
            "memory",
            new Quantity("32Gi"),
            "pods",
            new Quantity("110"),
            "ephemeral-storage",
            new Quantity("100Gi"));
    current.setStatus(
        new NodeStatusBuilder()
            .withConditions(ready)
            // No Hostname address: the API server would try to resolve it to reach the node's
            // kubelet port (pods/log); the stand-in serves it on 127.0.0.1.
            .addNewAddress()
            .withType("InternalIP")
            .withAddress("127.0.0.1")
            .endAddress()
            .withCapacity(capacity)
            .withAllocatable(capacity)
            .withNewNodeInfo()
            .withKubeletVersion("v1.20.2")
            .withKubeProxyVersion("v1.20.2")
            .withOperatingSystem("linux")
            .withArchitecture("amd64")
            .withContainerRuntimeVersion("stand-in://1")
            .withOsImage("jfs-csi kubelet stand-in")
            .withKernelVersion(System.getProperty("os.version"))
            .withBootID("")
            .withMachineID("")
            .withSystemUUID("")
            .endNodeInfo()
            .withDaemonEndpoints(endpoints)
            .build());
    client.nodes().resource(current).updateStatus();
  }

  /** Deletes the Node {@code name} if it exists. */
  public void deleteNode(String name) {
    client.nodes().withName(name).delete();
  }

  /**
   * The token of ServiceAccount {@code namespace/name}, from the Secret that the token controller
   * creates for it (waits up to 30 s for it).
   */
  public String serviceAccountToken(String namespace, String name) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
    while (true) {
      ServiceAccount sa = client.serviceAccounts().inNamespace(namespace).withName(name).get();
      if (sa != null && sa.getSecrets() != null) {
        for (var ref : sa.getSecrets()) {
          Secret secret = client.secrets().inNamespace(namespace).withName(ref.getName()).get();
          if (secret != null
              && "kubernetes.io/service-account-token".equals(secret.getType())
              && secret.getData() != null
              && secret.getData().get("token") != null) {
            return new String(
                Base64.getDecoder().decode(secret.getData().get("token")), StandardCharsets.UTF_8);
          }
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException(
            "ServiceAccount "
                + namespace
                + "/"
                + name
                + " has no token after 30 s"
                + " (is kube-controller-manager running? see "
                + kubeconfig.getParent()
                + "/controller-manager.log)");
      }
      sleep(100);
    }
  }

  /** A client configuration that authenticates as ServiceAccount {@code namespace/name}. */
  public Config serviceAccountConfig(String namespace, String name) {
    return tokenConfig(masterUrl(), serviceAccountToken(namespace, name), namespace);
  }

  /** A client configuration that authenticates with {@code token} (any kind the server accepts). */
  public Config tokenConfig(String token, String namespace) {
    return tokenConfig(masterUrl(), token, namespace);
  }

  /**
   * Writes a kubeconfig for ServiceAccount {@code namespace/name} to {@code file} (mode 0600), for
   * a driver process started outside the JVM.
   */
  public Path writeServiceAccountKubeconfig(String namespace, String name, Path file)
      throws IOException {
    String token = serviceAccountToken(namespace, name);
    String text =
        """
        apiVersion: v1
        kind: Config
        clusters:
        - name: jfs-csi
          cluster:
            server: %s
            insecure-skip-tls-verify: true
        users:
        - name: %s
          user:
            token: %s
        contexts:
        - name: jfs-csi
          context:
            cluster: jfs-csi
            user: %s
            namespace: %s
        current-context: jfs-csi
        """
            .formatted(masterUrl(), name, token, name, namespace);
    Files.writeString(file, text);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    return file;
  }

  static Config tokenConfig(String masterUrl, String token, String namespace) {
    return new ConfigBuilder(Config.empty())
        .withMasterUrl(masterUrl)
        .withTrustCerts(true)
        .withDisableHostnameVerification(true)
        .withOauthToken(token)
        .withNamespace(namespace)
        .withRequestRetryBackoffLimit(3)
        .build();
  }

  private static String randomSuffix() {
    String alphabet = "bcdfghjklmnpqrstvwxz2456789";
    StringBuilder b = new StringBuilder(5);
    for (int i = 0; i < 5; i++) {
      b.append(alphabet.charAt(ThreadLocalRandom.current().nextInt(alphabet.length())));
    }
    return b.toString();
  }

  static Path projectRoot() {
    Path dir = Path.of(System.getProperty("user.dir")).toAbsolutePath();
    for (Path d = dir; d != null; d = d.getParent()) {
      if (Files.isExecutable(d.resolve("bin/kube-up"))) {
        return d;
      }
    }
    throw new IllegalStateException("bin/kube-up not found above " + dir);
  }

  static boolean onPath(String name) {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      if (!d.isEmpty() && Files.isExecutable(Path.of(d, name))) {
        return true;
      }
    }
    return false;
  }

  /** Runs a script of the project; returns its stdout; throws with its stderr on failure. */
  static String run(Path root, Duration timeout, String... argv) {
    Path out = null;
    Path err = null;
    try {
      out = Files.createTempFile("kube-up", ".out");
      err = Files.createTempFile("kube-up", ".err");
      List<String> command = new ArrayList<>(List.of(argv));
      command.set(0, root.resolve(argv[0]).toString());
      Process p =
          new ProcessBuilder(command)
              .directory(root.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectOutput(out.toFile())
              .redirectError(err.toFile())
              .start();
      if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
        p.destroyForcibly();
        throw new IllegalStateException(
            String.join(" ", argv)
                + " did not finish within "
                + timeout
                + ": "
                + Files.readString(err));
      }
      if (p.exitValue() != 0) {
        throw new IllegalStateException(
            String.join(" ", argv)
                + " failed with status "
                + p.exitValue()
                + ": "
                + Files.readString(err));
      }
      return Files.readString(out);
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot run " + String.join(" ", argv) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted running " + String.join(" ", argv), e);
    } finally {
      for (Path f : new Path[] {out, err}) {
        if (f != null) {
          try {
            Files.deleteIfExists(f);
          } catch (IOException ignored) {
            // a temp file
          }
        }
      }
    }
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}

package io.jfscsi.deploy;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.runtime.kube.configmap.GlobalConfigParser;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import io.jfscsi.testing.HostRequirements;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.schema.FailsafeSchema;

/**
 * Renders deploy/base and deploy/examples with {@code kubectl kustomize} and checks what the driver
 * depends on: the CSIDriver object, images, the node plugin's privileges, mounts and propagation,
 * probes on the management HTTP server, least-privilege RBAC, the HOCON config, and that every
 * example's Secret keys, {@code juicefs/*} keys and mount options pass the driver's own {@link
 * SettingsParser}. No server is involved here: {@link ManifestsDryRunTest} submits the same objects
 * to a real API server (server-side dry run).
 *
 * <p>{@link Yaml} reads what kustomize prints with snakeyaml-engine.
 */
class ManifestsTest {

  private static final Path BASE = Path.of("deploy/base");
  private static final Path EXAMPLES = Path.of("deploy/examples");
  private static final Path SIDECAR = Path.of("deploy/overlays/sidecar-provisioner");
  private static final Path REGISTRAR = Path.of("deploy/overlays/node-driver-registrar");
  private static final Path LOCAL_NODE = Path.of("deploy/overlays/local-node");
  private static final Path SNAPSHOTTER = Path.of("deploy/overlays/sidecar-snapshotter");
  private static final Path SNAPSHOT_CRDS = Path.of("deploy/crds/snapshot");
  private static final Path WEBHOOK = Path.of("deploy/overlays/webhook");

  private static List<Map<String, Object>> base;
  private static List<Map<String, Object>> examples;
  private static List<Map<String, Object>> sidecar;
  private static List<Map<String, Object>> registrar;
  private static List<Map<String, Object>> localNode;
  private static List<Map<String, Object>> snapshotter;
  private static List<Map<String, Object>> snapshotCrds;
  private static List<Map<String, Object>> webhook;

  @BeforeAll
  static void render() throws Exception {
    Optional<Path> kubectl = onPath("kubectl");
    HostRequirements.require(kubectl.isPresent(), "kubectl (apt-get install kubernetes-client)");
    base = Yaml.documents(kustomize(kubectl.get(), BASE));
    examples = Yaml.documents(kustomize(kubectl.get(), EXAMPLES));
    sidecar = Yaml.documents(kustomize(kubectl.get(), SIDECAR));
    registrar = Yaml.documents(kustomize(kubectl.get(), REGISTRAR));
    localNode = Yaml.documents(kustomize(kubectl.get(), LOCAL_NODE));
    snapshotter = Yaml.documents(kustomize(kubectl.get(), SNAPSHOTTER));
    snapshotCrds = Yaml.documents(kustomize(kubectl.get(), SNAPSHOT_CRDS));
    webhook = Yaml.documents(kustomize(kubectl.get(), WEBHOOK));
  }

  // ---------------------------------------------------------------- webhook overlay

  @Test
  void webhook_overlay_serves_the_go_drivers_path_to_labelled_namespaces_and_fails_closed() {
    Map<String, Object> config =
        one(webhook, "MutatingWebhookConfiguration", "juicefs-admission-webhook");
    Map<String, Object> hook = maps(config, "webhooks").getFirst();
    assertThat(str(hook, "clientConfig", "service", "path")).isEqualTo("/juicefs/inject-v1-pod");
    assertThat(str(hook, "clientConfig", "service", "name")).isEqualTo("juicefs-admission-webhook");
    assertThat(str(hook, "clientConfig", "service", "namespace")).isEqualTo("jfs-csi");
    assertThat(strings(map(hook, "namespaceSelector", "matchLabels")))
        .containsExactly(Map.entry("juicefs.com/enable-injection", "true"));
    assertThat(str(hook, "failurePolicy")).isEqualTo("Fail");
    assertThat(str(hook, "sideEffects")).isEqualTo("NoneOnDryRun");
    assertThat(strings(list(hook, "admissionReviewVersions"))).containsExactly("v1");
    assertThat(strings(list(maps(hook, "rules").getFirst(), "operations")))
        .containsExactly("CREATE");
    // The serverless route, for the Go driver's other namespace label.
    Map<String, Object> serverless = maps(config, "webhooks").get(1);
    assertThat(str(serverless, "clientConfig", "service", "path"))
        .isEqualTo("/juicefs/serverless/inject-v1-pod");
    assertThat(str(serverless, "clientConfig", "service", "name"))
        .isEqualTo("juicefs-admission-webhook");
    assertThat(strings(map(serverless, "namespaceSelector", "matchLabels")))
        .containsExactly(Map.entry("juicefs.com/enable-serverless-injection", "true"));
    assertThat(str(serverless, "failurePolicy")).isEqualTo("Fail");
    assertThat(str(serverless, "sideEffects")).isEqualTo("NoneOnDryRun");

    Map<String, Object> controller =
        container(one(webhook, "Deployment", "jfs-csi-controller"), "jfs-csi");
    assertThat(args(controller)).contains("--webhook", "--webhook-port=9444", "--roles=controller");
    assertThat(maps(controller, "ports"))
        .anySatisfy(
            p -> {
              assertThat(p).containsEntry("name", "webhook");
              assertThat(String.valueOf(p.get("containerPort"))).isEqualTo("9444");
            });
    Map<String, Object> service = one(webhook, "Service", "juicefs-admission-webhook");
    assertThat(str(service, "metadata", "namespace")).isEqualTo("jfs-csi");
    assertThat(maps(service, "spec", "ports").getFirst()).containsEntry("targetPort", "webhook");
    Map<String, Object> role = one(webhook, "ClusterRole", "jfs-csi-webhook");
    assertThat(maps(role, "rules"))
        .anySatisfy(r -> assertThat(strings(list(r, "verbs"))).contains("create", "patch"))
        .anySatisfy(
            r ->
                assertThat(strings(list(r, "resourceNames")))
                    .containsExactly("juicefs-admission-webhook"))
        // SidecarExitWatcher: exec into the clients of a Job's pod whose app is done.
        .anySatisfy(
            r -> {
              assertThat(strings(list(r, "resources"))).containsExactly("pods/exec");
              assertThat(strings(list(r, "verbs"))).containsExactlyInAnyOrder("get", "create");
            });
    // ... and watches the injected pods under the base's rule.
    assertThat(maps(one(webhook, "ClusterRole", "jfs-csi-provisioner"), "rules"))
        .anySatisfy(
            r -> {
              assertThat(strings(list(r, "resources"))).containsExactly("pods");
              assertThat(strings(list(r, "verbs"))).contains("list", "watch");
            });
    // The rest of the base is unchanged.
    assertThat(args(container(one(base, "Deployment", "jfs-csi-controller"), "jfs-csi")))
        .doesNotContain("--webhook");
  }

  // ---------------------------------------------------------------- base

  @Test
  void base_holds_every_object_an_operator_needs() {
    assertThat(base)
        .extracting(d -> kind(d) + "/" + name(d))
        .contains(
            "Namespace/jfs-csi",
            "CSIDriver/csi.juicefs.com",
            "ResourceQuota/jfs-csi-critical-pods",
            "ServiceAccount/jfs-csi-controller",
            "ServiceAccount/jfs-csi-node",
            "ClusterRole/jfs-csi-provisioner",
            "ClusterRoleBinding/jfs-csi-provisioner",
            "Role/jfs-csi-provisioner-leader-election",
            "RoleBinding/jfs-csi-provisioner-leader-election",
            "Deployment/jfs-csi-controller",
            "DaemonSet/jfs-csi-node",
            "Service/jfs-csi-node-metrics",
            "Service/jfs-csi-controller-metrics");
    assertThat(base)
        .filteredOn(d -> kind(d).equals("ConfigMap"))
        .extracting(ManifestsTest::name)
        .singleElement()
        .asString()
        .startsWith("jfs-csi-config");
    // Every namespaced object lands in the driver's namespace.
    for (Map<String, Object> d : base) {
      if (Set.of(
              "ServiceAccount",
              "Role",
              "RoleBinding",
              "ConfigMap",
              "Deployment",
              "DaemonSet",
              "ResourceQuota",
              "Service")
          .contains(kind(d))) {
        assertThat(str(d, "metadata", "namespace"))
            .as(kind(d) + " " + name(d))
            .isEqualTo("jfs-csi");
      }
    }
    assertThat(
            str(
                one(base, "Namespace", "jfs-csi"),
                "metadata",
                "labels",
                "pod-security.kubernetes.io/enforce"))
        .isEqualTo("privileged");
  }

  @Test
  void csi_driver_is_the_go_drivers() {
    Map<String, Object> driver = one(base, "CSIDriver", "csi.juicefs.com");
    assertThat(str(driver, "apiVersion")).isEqualTo("storage.k8s.io/v1");
    assertThat(str(driver, "spec", "attachRequired")).isEqualTo("false");
    assertThat(str(driver, "spec", "podInfoOnMount")).isEqualTo("true");
    assertThat(strings(list(driver, "spec", "volumeLifecycleModes"))).containsExactly("Persistent");
  }

  @Test
  void every_container_has_a_pinned_image() {
    for (Map<String, Object> w : workloads()) {
      for (Map<String, Object> c : allContainers(w)) {
        String image = str(c, "image");
        assertThat(image)
            .as(name(w) + "/" + str(c, "name"))
            .isNotBlank()
            .matches("[^\\s]+:[^:/\\s]+")
            .doesNotEndWith(":latest");
      }
    }
  }

  @Test
  void node_plugin_is_privileged_with_bidirectional_kubelet_and_mount_root() {
    Map<String, Object> ds = one(base, "DaemonSet", "jfs-csi-node");
    Map<String, Object> pod = map(ds, "spec", "template", "spec");
    Map<String, Object> driver = container(ds, "jfs-csi");

    assertThat(str(driver, "securityContext", "privileged")).isEqualTo("true");
    assertThat(str(pod, "hostPID"))
        .as("container recovery reads other pods' /proc/PID")
        .isEqualTo("true");
    assertThat(str(ds, "spec", "updateStrategy", "type"))
        .as("a replaced node container kills its clients: no automatic rollout")
        .isEqualTo("OnDelete");
    assertThat(args(driver))
        .contains(
            "serve",
            "--roles=node",
            "--node-id=$(NODE_NAME)",
            "--kubelet-root=/var/lib/kubelet",
            "--mount-root=/var/lib/juicefs/volume",
            "--state-dir=/var/lib/jfs-csi");
    assertThat(envFieldRef(driver, "NODE_NAME")).isEqualTo("spec.nodeName");
    // Mount Pods run as the node plugin's account (without its token), as in the Go driver, in
    // the node plugin's namespace, where that account exists.
    assertThat(envFieldRef(driver, "JUICEFS_MOUNT_SERVICE_ACCOUNT"))
        .isEqualTo("spec.serviceAccountName");
    assertThat(envFieldRef(driver, "JUICEFS_MOUNT_NAMESPACE")).isEqualTo("metadata.namespace");

    Map<String, String> hostPaths = hostPaths(pod);
    assertThat(hostMountOf(driver, hostPaths, "/var/lib/kubelet")).isEqualTo("Bidirectional");
    assertThat(hostMountOf(driver, hostPaths, "/var/lib/juicefs/volume"))
        .isEqualTo("Bidirectional");
    assertThat(mountPathOfHost(driver, hostPaths, "/var/lib/jfs-csi"))
        .isEqualTo("/var/lib/jfs-csi");
    assertThat(mountPathOfHost(driver, hostPaths, "/dev/fuse")).isEqualTo("/dev/fuse");

    // Kubernetes refuses Bidirectional propagation in a container that is not privileged.
    for (Map<String, Object> c : allContainers(ds)) {
      boolean bidirectional =
          maps(c, "volumeMounts").stream()
              .anyMatch(m -> "Bidirectional".equals(m.get("mountPropagation")));
      if (bidirectional) {
        assertThat(str(c, "securityContext", "privileged")).as(str(c, "name")).isEqualTo("true");
      }
    }
    // The state directory holds Secrets: an init container makes it 0700 before the driver runs.
    assertThat(maps(pod, "initContainers"))
        .anySatisfy(
            init -> {
              assertThat(strings(list(init, "command")))
                  .containsExactly("chmod", "0700", "/var/lib/jfs-csi");
              assertThat(mountPathOfHost(init, hostPaths, "/var/lib/jfs-csi"))
                  .isEqualTo("/var/lib/jfs-csi");
            });
  }

  /**
   * The driver registers itself with kubelet: it names its CSI socket by its own path, so that path
   * must be the host's (the kubelet directory is mounted at the same path).
   */
  @Test
  void node_plugin_registers_itself_with_kubelet_on_the_socket_it_serves() {
    Map<String, Object> ds = one(base, "DaemonSet", "jfs-csi-node");
    Map<String, String> hostPaths = hostPaths(map(ds, "spec", "template", "spec"));
    Map<String, Object> driver = container(ds, "jfs-csi");
    assertThat(allContainers(ds))
        .extracting(c -> str(c, "name"))
        .as("no registrar sidecar")
        .doesNotContain("node-driver-registrar");
    assertThat(env(driver, "JFS_CSI_KUBELET_REGISTRATION")).isEqualTo("true");
    String endpoint = flag(driver, "--endpoint").replaceFirst("^unix://", "");
    assertThat(endpoint).isEqualTo("/var/lib/kubelet/plugins/csi.juicefs.com/csi.sock");
    assertThat(hostSocket(driver, hostPaths, endpoint)).isEqualTo(endpoint);
    // The registration socket <kubelet root>/plugins_registry/... is on the host too.
    assertThat(
            hostSocket(
                driver,
                hostPaths,
                flag(driver, "--kubelet-root") + "/plugins_registry/csi.juicefs.com-reg.sock"))
        .isEqualTo("/var/lib/kubelet/plugins_registry/csi.juicefs.com-reg.sock");
  }

  @Test
  void registrar_overlay_registers_the_socket_the_driver_serves_instead() {
    Map<String, Object> ds = one(registrar, "DaemonSet", "jfs-csi-node");
    Map<String, String> hostPaths = hostPaths(map(ds, "spec", "template", "spec"));
    Map<String, Object> driver = container(ds, "jfs-csi");
    Map<String, Object> sidecar = container(ds, "node-driver-registrar");
    assertThat(env(driver, "JFS_CSI_KUBELET_REGISTRATION")).isEqualTo("false");
    String socket =
        hostSocket(driver, hostPaths, flag(driver, "--endpoint").replaceFirst("^unix://", ""));
    assertThat(hostSocket(sidecar, hostPaths, flag(sidecar, "--csi-address"))).isEqualTo(socket);
    assertThat(flag(sidecar, "--kubelet-registration-path")).isEqualTo(socket);
    assertThat(mountPathOfHost(sidecar, hostPaths, "/var/lib/kubelet/plugins_registry"))
        .isEqualTo("/registration");
    assertThat(str(sidecar, "image"))
        .isEqualTo("registry.k8s.io/sig-storage/csi-node-driver-registrar:v2.13.0");
  }

  /**
   * The overlay of bin/node-up's node: local images never pulled, kubelet's root of that node
   * consistently (flag, socket, mount at the host's path), and the API server on loopback for the
   * pods that talk to it (host network: no kube-proxy there).
   */
  @Test
  void local_node_overlay_uses_local_images_the_nodes_kubelet_root_and_loopback_api() {
    for (Map<String, Object> w :
        List.of(
            one(localNode, "DaemonSet", "jfs-csi-node"),
            one(localNode, "Deployment", "jfs-csi-controller"))) {
      for (Map<String, Object> c : allContainers(w)) {
        assertThat(str(c, "image"))
            .as(name(w) + "/" + str(c, "name"))
            .isEqualTo("localhost/jfs-csi:dev");
        assertThat(str(c, "imagePullPolicy")).as(name(w) + "/" + str(c, "name")).isEqualTo("Never");
      }
      assertThat(str(w, "spec", "template", "spec", "hostNetwork")).isEqualTo("true");
      Map<String, Object> driver = container(w, "jfs-csi");
      assertThat(env(driver, "KUBERNETES_SERVICE_HOST")).isEqualTo("127.0.0.1");
      assertThat(env(driver, "KUBERNETES_SERVICE_PORT")).isEqualTo("16443");
    }
    Map<String, Object> ds = one(localNode, "DaemonSet", "jfs-csi-node");
    Map<String, String> hostPaths = hostPaths(map(ds, "spec", "template", "spec"));
    Map<String, Object> driver = container(ds, "jfs-csi");
    String root = "/var/lib/jfs-csi-node/kubelet";
    assertThat(flag(driver, "--kubelet-root")).isEqualTo(root);
    assertThat(hostMountOf(driver, hostPaths, root)).isEqualTo("Bidirectional");
    String endpoint = flag(driver, "--endpoint").replaceFirst("^unix://", "");
    assertThat(endpoint).isEqualTo(root + "/plugins/csi.juicefs.com/csi.sock");
    assertThat(hostSocket(driver, hostPaths, endpoint)).isEqualTo(endpoint);
    assertThat(env(driver, "JUICEFS_MOUNT_IMAGE")).isEqualTo("localhost/jfs-csi-mount:dev");
    // The rest of the node's arguments are the base's.
    List<String> baseArgs =
        new ArrayList<>(args(container(one(base, "DaemonSet", "jfs-csi-node"), "jfs-csi")));
    baseArgs.replaceAll(a -> a.replace("/var/lib/kubelet", root));
    assertThat(args(driver)).containsExactlyElementsOf(baseArgs);
    // The controller shares the host's ports with the node plugin.
    Map<String, Object> controller =
        container(one(localNode, "Deployment", "jfs-csi-controller"), "jfs-csi");
    assertThat(env(controller, "JFS_CSI_MANAGEMENT_PORT"))
        .isNotEqualTo(env(driver, "JFS_CSI_MANAGEMENT_PORT"));
    assertThat(probePort(controller, "readinessProbe"))
        .isEqualTo(env(controller, "JFS_CSI_MANAGEMENT_PORT"));
  }

  @Test
  void probes_and_metrics_use_the_management_server_on_its_port() {
    for (String[] w :
        new String[][] {{"DaemonSet", "jfs-csi-node"}, {"Deployment", "jfs-csi-controller"}}) {
      Map<String, Object> workload = one(base, w[0], w[1]);
      Map<String, Object> driver = container(workload, "jfs-csi");
      assertThat(env(driver, "JFS_CSI_MANAGEMENT_HOST")).isEqualTo("0.0.0.0");
      String port = env(driver, "JFS_CSI_MANAGEMENT_PORT");
      assertThat(port).matches("\\d+");
      assertThat(env(driver, "JAVA_TOOL_OPTIONS"))
          .contains("-XX:+UseSerialGC")
          .containsPattern("-Xmx\\d+m");
      assertThat(str(driver, "readinessProbe", "httpGet", "path")).isEqualTo("/ready");
      assertThat(probePort(driver, "readinessProbe")).isEqualTo(port);
      Map<String, Object> annotations =
          map(workload, "spec", "template", "metadata", "annotations");
      assertThat(annotations)
          .containsEntry("prometheus.io/scrape", "true")
          .containsEntry("prometheus.io/port", port)
          .containsEntry("prometheus.io/path", "/metrics");
      assertThat(base)
          .filteredOn(d -> kind(d).equals("Service") && name(d).equals(w[1] + "-metrics"))
          .singleElement()
          .satisfies(
              s ->
                  assertThat(maps(s, "spec", "ports"))
                      .extracting(p -> p.get("targetPort"))
                      .containsExactly(port));
    }
    // The node's liveness only asks whether the process runs: a restart kills every client.
    Map<String, Object> node = container(one(base, "DaemonSet", "jfs-csi-node"), "jfs-csi");
    assertThat(str(node, "livenessProbe", "httpGet", "path")).isEqualTo("/alive");
    assertThat(probePort(node, "livenessProbe")).isEqualTo(env(node, "JFS_CSI_MANAGEMENT_PORT"));
    // The controller's liveness is its own /alive too: no livenessprobe sidecar.
    Map<String, Object> controller =
        container(one(base, "Deployment", "jfs-csi-controller"), "jfs-csi");
    assertThat(str(controller, "livenessProbe", "httpGet", "path")).isEqualTo("/alive");
    assertThat(probePort(controller, "livenessProbe"))
        .isEqualTo(env(controller, "JFS_CSI_MANAGEMENT_PORT"));
  }

  @Test
  void controller_replicas_run_the_built_in_provisioner_with_leader_election() {
    Map<String, Object> deploy = one(base, "Deployment", "jfs-csi-controller");
    assertThat(str(deploy, "spec", "replicas")).isEqualTo("2");
    assertThat(str(deploy, "spec", "template", "spec", "serviceAccountName"))
        .isEqualTo("jfs-csi-controller");
    Map<String, Object> driver = container(deploy, "jfs-csi");
    assertThat(args(driver)).contains("serve", "--roles=controller");
    assertThat(env(driver, "JFS_CSI_PROVISIONER")).isEqualTo("builtin");
    // The Lease lives in the driver's namespace, where the leader-election Role grants it.
    assertThat(envFieldRef(driver, "JUICEFS_MOUNT_NAMESPACE")).isEqualTo("metadata.namespace");
    // Making a volume's directory mounts the file system with a short-lived FUSE client.
    assertThat(str(driver, "securityContext", "privileged")).isEqualTo("true");
    assertThat(allContainers(deploy)).extracting(c -> str(c, "name")).containsExactly("jfs-csi");
  }

  @Test
  void sidecar_overlay_puts_the_external_provisioner_in_front_of_the_driver() {
    Map<String, Object> deploy = one(sidecar, "Deployment", "jfs-csi-controller");
    Map<String, Object> driver = container(deploy, "jfs-csi");
    assertThat(env(driver, "JFS_CSI_PROVISIONER")).isEqualTo("sidecar");
    Map<String, Object> provisioner = container(deploy, "csi-provisioner");
    assertThat(str(provisioner, "image"))
        .isEqualTo("registry.k8s.io/sig-storage/csi-provisioner:v5.2.0");
    assertThat(args(provisioner)).contains("--leader-election", "--extra-create-metadata");
    assertThat(args(provisioner)).noneMatch(a -> a.startsWith("--volume-name-prefix"));
    String endpoint = flag(driver, "--endpoint").replaceFirst("^unix://", "");
    assertThat(flag(provisioner, "--csi-address")).isEqualTo(endpoint);
    // Exactly external-provisioner's rules (the built-in's are a subset of them).
    assertThat(grants(sidecar, "jfs-csi-controller"))
        .containsExactlyInAnyOrder(
            "/persistentvolumes:get",
            "/persistentvolumes:list",
            "/persistentvolumes:watch",
            "/persistentvolumes:create",
            "/persistentvolumes:patch",
            "/persistentvolumes:delete",
            "/persistentvolumeclaims:get",
            "/persistentvolumeclaims:list",
            "/persistentvolumeclaims:watch",
            "/persistentvolumeclaims:update",
            // the built-in resizer's and the global ConfigMap's, left in the base
            "/persistentvolumeclaims/status:patch",
            "/configmaps@jfs-csi:list",
            "/configmaps@jfs-csi:watch",
            "storage.k8s.io/storageclasses:get",
            "storage.k8s.io/storageclasses:list",
            "storage.k8s.io/storageclasses:watch",
            "/events:list",
            "/events:watch",
            "/events:create",
            "/events:update",
            "/events:patch",
            "storage.k8s.io/csinodes:get",
            "storage.k8s.io/csinodes:list",
            "storage.k8s.io/csinodes:watch",
            "/nodes:get",
            "/nodes:list",
            "/nodes:watch",
            // GET /cluster and the cluster page, left in the base
            "/pods:get",
            "/pods:list",
            "/pods:watch",
            "/pods/log:get",
            "/secrets:get",
            "/secrets:patch",
            // a claim restored from a VolumeSnapshot, left in the base
            "snapshot.storage.k8s.io/volumesnapshots:get",
            "snapshot.storage.k8s.io/volumesnapshotcontents:get",
            "coordination.k8s.io/leases@jfs-csi:get",
            "coordination.k8s.io/leases@jfs-csi:list",
            "coordination.k8s.io/leases@jfs-csi:watch",
            "coordination.k8s.io/leases@jfs-csi:create",
            "coordination.k8s.io/leases@jfs-csi:update",
            "coordination.k8s.io/leases@jfs-csi:delete",
            // the built-in provisioner's renewal, left in the base
            "coordination.k8s.io/leases@jfs-csi:patch");
  }

  @Test
  void snapshotter_overlay_puts_csi_snapshotter_beside_the_driver_on_its_socket() {
    Map<String, Object> deploy = one(snapshotter, "Deployment", "jfs-csi-controller");
    Map<String, Object> driver = container(deploy, "jfs-csi");
    Map<String, Object> snapshots = container(deploy, "csi-snapshotter");
    assertThat(str(snapshots, "image"))
        .isEqualTo("registry.k8s.io/sig-storage/csi-snapshotter:v8.2.0");
    assertThat(args(snapshots)).contains("--leader-election");
    String endpoint = flag(driver, "--endpoint").replaceFirst("^unix://", "");
    assertThat(flag(snapshots, "--csi-address")).isEqualTo(endpoint);
    assertThat(grants(snapshotter, "jfs-csi-controller"))
        .contains(
            "snapshot.storage.k8s.io/volumesnapshotcontents:update",
            "snapshot.storage.k8s.io/volumesnapshotcontents/status:patch",
            "snapshot.storage.k8s.io/volumesnapshotclasses:watch",
            "coordination.k8s.io/leases@jfs-csi:update");
  }

  @Test
  void snapshot_crds_serve_the_v1_api_the_provisioner_reads() {
    assertThat(snapshotCrds)
        .extracting(d -> kind(d) + "/" + name(d))
        .containsExactlyInAnyOrder(
            "CustomResourceDefinition/volumesnapshotclasses.snapshot.storage.k8s.io",
            "CustomResourceDefinition/volumesnapshotcontents.snapshot.storage.k8s.io",
            "CustomResourceDefinition/volumesnapshots.snapshot.storage.k8s.io");
    for (Map<String, Object> crd : snapshotCrds) {
      assertThat(String.valueOf(crd.get("spec")))
          .as(name(crd))
          .contains("name=v1,")
          .contains("served=true");
    }
  }

  /**
   * The controller's ServiceAccount gets exactly what the built-in provisioner does: informers on
   * claims and volumes, PV create and delete, one StorageClass and one Secret read by name ("get"
   * only: the Secret a StorageClass names in {@code csi.storage.k8s.io/provisioner-secret-*}, whose
   * metaurl reaches the file system; never listed or watched), events created, and its Lease in the
   * driver namespace; for GET /cluster and the cluster page, StorageClasses and pods listed and
   * watched, pods' logs and Events read. The node's ServiceAccount gets what its Mount Pod runtime
   * does.
   */
  @Test
  void rbac_is_least_privilege() {
    Set<String> controller = grants(base, "jfs-csi-controller");
    assertThat(controller)
        .containsExactlyInAnyOrder(
            "/persistentvolumes:get",
            "/persistentvolumes:list",
            "/persistentvolumes:watch",
            "/persistentvolumes:create",
            "/persistentvolumes:patch", // a resized claim's PV capacity
            "/persistentvolumes:delete",
            "/persistentvolumeclaims:get",
            "/persistentvolumeclaims:list",
            "/persistentvolumeclaims:watch",
            "/persistentvolumeclaims/status:patch", // a resized claim's status capacity
            // The global ConfigMap's quota switches (an informer on that one object).
            "/configmaps@jfs-csi:list",
            "/configmaps@jfs-csi:watch",
            "storage.k8s.io/storageclasses:get",
            "storage.k8s.io/storageclasses:list",
            "storage.k8s.io/storageclasses:watch",
            "/pods:get",
            "/pods:list",
            "/pods:watch",
            "/pods/log:get",
            "/events:create",
            "/events:list",
            "/nodes:get", // a WaitForFirstConsumer claim's node, for ${.node.*} templates
            "/secrets:get",
            "/secrets:patch",
            // A claim restored from a VolumeSnapshot: that one and its content, by name.
            "snapshot.storage.k8s.io/volumesnapshots:get",
            "snapshot.storage.k8s.io/volumesnapshotcontents:get",
            "coordination.k8s.io/leases@jfs-csi:get",
            "coordination.k8s.io/leases@jfs-csi:create",
            "coordination.k8s.io/leases@jfs-csi:patch");
    // The node's Mount Pod runtime: its pods, Secrets, cache Jobs and the global ConfigMap in its
    // own namespace; cluster-wide the pods of its node (field selector), Events, and the PV, claim
    // and node that the ConfigMap's selectors look at.
    assertThat(grants(base, "jfs-csi-node"))
        .containsExactlyInAnyOrder(
            "/pods@jfs-csi:create",
            "/pods@jfs-csi:delete",
            "/pods@jfs-csi:patch",
            "/pods@jfs-csi:get",
            "/pods@jfs-csi:list",
            "/pods@jfs-csi:watch",
            "/pods/log@jfs-csi:get",
            "/secrets@jfs-csi:create",
            "/secrets@jfs-csi:get",
            "/secrets@jfs-csi:update",
            "/secrets@jfs-csi:delete",
            "batch/jobs@jfs-csi:create",
            "batch/jobs@jfs-csi:get",
            "batch/jobs@jfs-csi:delete",
            "batch/jobs@jfs-csi:list",
            "batch/jobs@jfs-csi:watch",
            "/pods:list",
            "/pods:watch",
            "/events:create",
            // The global ConfigMap (an informer on that one object); what its selectors read.
            "/configmaps@jfs-csi:list",
            "/configmaps@jfs-csi:watch",
            "/persistentvolumes:get",
            "/persistentvolumes:list",
            "/persistentvolumeclaims:get",
            "/nodes:get",
            "storage.k8s.io/storageclasses:get");
    // The driver reads the API server with its ServiceAccount token (in-cluster config).
    assertThat(one(base, "ServiceAccount", "jfs-csi-node"))
        .doesNotContainKey("automountServiceAccountToken");
    assertThat(map(one(base, "DaemonSet", "jfs-csi-node"), "spec", "template", "spec"))
        .doesNotContainKey("automountServiceAccountToken");
    Map<String, Object> node = container(one(base, "DaemonSet", "jfs-csi-node"), "jfs-csi");
    assertThat(env(node, "JFS_CSI_RUNTIME")).isEqualTo("kubernetes");
    assertThat(envFieldRef(node, "JUICEFS_MOUNT_NAMESPACE")).isEqualTo("metadata.namespace");
    assertThat(env(node, "JUICEFS_MOUNT_IMAGE")).startsWith("juicedata/mount:");
  }

  @Test
  void the_config_map_is_hocon_the_driver_knows_and_is_what_serve_reads() {
    Map<String, Object> cm =
        base.stream().filter(d -> kind(d).equals("ConfigMap")).findFirst().orElseThrow();
    String text = str(cm, "data", "application.conf");
    Config conf = ConfigFactory.parseString(text);
    Config reference = ConfigFactory.defaultReference();
    assertThat(conf.entrySet())
        .isNotEmpty()
        .allSatisfy(
            e ->
                assertThat(reference.hasPath(e.getKey())).as("unknown key " + e.getKey()).isTrue());
    // The file is stronger than the environment: it must not hide what the manifests set there.
    for (String key :
        List.of(
            "jfs-csi.node-id",
            "jfs-csi.roles",
            "jfs-csi.endpoint",
            "jfs-csi.management.host",
            "jfs-csi.management.port",
            "jfs-csi.management.token",
            "jfs-csi.controller.provisioner",
            "jfs-csi.kubernetes.namespace")) {
      assertThat(conf.hasPath(key)).as(key).isFalse();
    }
    for (Map<String, Object> w : workloads()) {
      Map<String, Object> driver = container(w, "jfs-csi");
      Map<String, Object> volume =
          maps(w, "spec", "template", "spec", "volumes").stream()
              .filter(v -> v.containsKey("configMap"))
              .findFirst()
              .orElseThrow();
      assertThat(str(volume, "configMap", "name")).isEqualTo(name(cm));
      String mountPath =
          maps(driver, "volumeMounts").stream()
              .filter(m -> m.get("name").equals(volume.get("name")))
              .findFirst()
              .orElseThrow()
              .get("mountPath")
              .toString();
      assertThat(flag(driver, "--config")).isEqualTo(mountPath + "/application.conf");
    }
  }

  // ---------------------------------------------------------------- examples

  @Test
  void every_example_file_is_rendered() throws IOException {
    String kustomization = Files.readString(EXAMPLES.resolve("kustomization.yaml"));
    try (Stream<Path> files = Files.list(EXAMPLES)) {
      List<String> yamls =
          files
              .map(p -> p.getFileName().toString())
              .filter(n -> n.endsWith(".yaml"))
              .filter(
                  n ->
                      !n.equals("kustomization.yaml") && !n.equals("prometheus-scrape-config.yaml"))
              .toList();
      assertThat(yamls)
          .isNotEmpty()
          .allSatisfy(n -> assertThat(kustomization).contains("\n- " + n + "\n"));
    }
    assertThat(examples)
        .extracting(ManifestsTest::kind)
        .contains("Secret", "StorageClass", "PersistentVolume", "PersistentVolumeClaim", "Pod");
    String scrape = Files.readString(EXAMPLES.resolve("prometheus-scrape-config.yaml"));
    assertThat(scrape)
        .contains(
            "job_name: jfs-csi",
            "__meta_kubernetes_pod_annotation_prometheus_io_port",
            "- jfs-csi");
  }

  @Test
  void example_global_configmap_is_read_whole_by_the_driver() throws Exception {
    Map<String, Object> cm = one(examples, "ConfigMap", "juicefs-csi-driver-config");
    assertThat(str(cm, "metadata", "namespace")).isEqualTo("jfs-csi");
    String yaml = str(cm, "data", GlobalConfigWatch.KEY);
    var parsed = GlobalConfigParser.parse(yaml);
    assertThat(parsed.ignoredKeys()).as("keys the driver would ignore").isEmpty();
    assertThat(parsed.config().mountPodPatch()).hasSize(4);
    assertThat(parsed.config().selectsClaims()).isTrue();
    assertThat(parsed.config().needsNodeLabels()).isTrue();
  }

  @Test
  void example_secret_carries_every_key_and_the_driver_accepts_it() {
    Map<String, String> secret = secret("juicefs-secret", "jfs-csi");
    assertThat(secret.keySet())
        .contains(
            "name",
            "metaurl",
            "storage",
            "bucket",
            "access-key",
            "secret-key",
            "format-options",
            "envs",
            "configs");
    assertThat(secret.get("format-options")).contains("trash-days=", "inodes=", "capacity=");
    VolumeSettings settings =
        SettingsParser.parse(new VolumeSource("pvc-example", secret, Map.of(), List.of()));
    assertThat(settings.fsName()).isEqualTo("myjfs");
  }

  @Test
  void example_storage_class_passes_the_driver_parser() {
    Map<String, Object> sc = one(examples, "StorageClass", "juicefs-sc");
    assertThat(str(sc, "provisioner")).isEqualTo("csi.juicefs.com");
    Map<String, String> params = strings(map(sc, "parameters"));
    assertThat(params)
        .containsKeys(
            "juicefs/mount-delete-delay",
            "juicefs/clean-cache",
            "juicefs/mount-cpu-limit",
            "juicefs/mount-memory-limit");
    Map<String, String> secret =
        secret(
            params.get("csi.storage.k8s.io/provisioner-secret-name"),
            params.get("csi.storage.k8s.io/provisioner-secret-namespace"));
    assertThat(
            secret(
                params.get("csi.storage.k8s.io/node-publish-secret-name"),
                params.get("csi.storage.k8s.io/node-publish-secret-namespace")))
        .isEqualTo(secret);
    // What NodePublishVolume gets for a dynamic volume: the parameters, subPath and capacity
    // (CreateVolume's volume context), and the StorageClass mountOptions.
    Map<String, String> context = new HashMap<>(params);
    context.put("subPath", "pvc-0f2e5c1a-8d0b-4f4e-9c57-0d1c2b3a4e5f");
    context.put("capacity", "10737418240");
    List<String> mountOptions = strings(list(sc, "mountOptions"));
    VolumeSettings settings =
        SettingsParser.parse(
            new VolumeSource(
                "pvc-0f2e5c1a-8d0b-4f4e-9c57-0d1c2b3a4e5f", secret, context, mountOptions));
    assertThat(settings.cleanCache()).isTrue();

    assertThat(SettingsParser.ignoredKeys(new VolumeSource("v", secret, context, mountOptions)))
        .as("every juicefs/* key of the example is one the driver knows")
        .isEmpty();
    // The check has teeth: a misspelt juicefs/* key is named, a refused mount option refused.
    Map<String, String> misspelt = new HashMap<>(context);
    misspelt.put("juicefs/mount-delete-dely", "1m");
    assertThat(SettingsParser.ignoredKeys(new VolumeSource("v", secret, misspelt, mountOptions)))
        .hasValueSatisfying(note -> assertThat(note).contains("juicefs/mount-delete-dely"));
    List<String> badOptions = new ArrayList<>(mountOptions);
    badOptions.add("writeback");
    assertThatThrownBy(
            () -> SettingsParser.parse(new VolumeSource("v", secret, context, badOptions)))
        .isInstanceOf(Failure.class)
        .hasMessageContaining("writeback");
  }

  @Test
  void example_static_volume_passes_the_driver_parser() {
    Map<String, Object> pv = one(examples, "PersistentVolume", "juicefs-existing-data");
    Map<String, Object> csi = map(pv, "spec", "csi");
    assertThat(str(csi, "driver")).isEqualTo("csi.juicefs.com");
    assertThat(str(pv, "spec", "persistentVolumeReclaimPolicy")).isEqualTo("Retain");
    Map<String, String> secret =
        secret(
            str(csi, "nodePublishSecretRef", "name"),
            str(csi, "nodePublishSecretRef", "namespace"));
    Map<String, String> attributes = strings(map(csi, "volumeAttributes"));
    assertThat(attributes).containsKey("subPath");
    VolumeSettings settings =
        SettingsParser.parse(
            new VolumeSource(
                str(csi, "volumeHandle"),
                secret,
                attributes,
                strings(list(pv, "spec", "mountOptions"))));
    assertThat(settings.subPath()).isEqualTo("projects/alpha");

    Map<String, Object> pvc = one(examples, "PersistentVolumeClaim", "juicefs-existing-data");
    assertThat(str(pvc, "spec", "volumeName")).isEqualTo(name(pv));
    assertThat(str(pvc, "spec", "storageClassName")).isEmpty();
  }

  @Test
  void example_pods_use_existing_claims_with_host_to_container_propagation() {
    Set<String> claims =
        examples.stream()
            .filter(d -> kind(d).equals("PersistentVolumeClaim"))
            .map(ManifestsTest::name)
            .collect(Collectors.toSet());
    Set<String> storageClasses =
        examples.stream()
            .filter(d -> kind(d).equals("StorageClass"))
            .map(ManifestsTest::name)
            .collect(Collectors.toSet());
    examples.stream()
        .filter(d -> kind(d).equals("PersistentVolumeClaim"))
        .filter(d -> !str(d, "spec", "storageClassName").isEmpty())
        .forEach(d -> assertThat(storageClasses).contains(str(d, "spec", "storageClassName")));
    List<Map<String, Object>> pods = examples.stream().filter(d -> kind(d).equals("Pod")).toList();
    assertThat(pods).hasSizeGreaterThanOrEqualTo(3);
    Map<String, List<String>> subPathsByClaim = new HashMap<>();
    for (Map<String, Object> pod : pods) {
      Map<String, String> claimOf = new HashMap<>();
      for (Map<String, Object> v : maps(pod, "spec", "volumes")) {
        if (v.containsKey("persistentVolumeClaim")) {
          String claim = str(v, "persistentVolumeClaim", "claimName");
          assertThat(claims).as(name(pod)).contains(claim);
          claimOf.put(v.get("name").toString(), claim);
        }
      }
      for (Map<String, Object> c : maps(pod, "spec", "containers")) {
        for (Map<String, Object> m : maps(c, "volumeMounts")) {
          if (claimOf.containsKey(m.get("name").toString())) {
            assertThat(m.get("mountPropagation")).as(name(pod)).isEqualTo("HostToContainer");
            subPathsByClaim
                .computeIfAbsent(claimOf.get(m.get("name").toString()), k -> new ArrayList<>())
                .add(m.containsKey("subPath") ? m.get("subPath").toString() : "");
          }
        }
      }
    }
    // Two pods share one claim, each in a sub-directory of its own.
    assertThat(subPathsByClaim.values())
        .anySatisfy(
            subPaths ->
                assertThat(subPaths)
                    .hasSizeGreaterThanOrEqualTo(2)
                    .doesNotContain("")
                    .doesNotHaveDuplicates());
  }

  // ---------------------------------------------------------------- helpers

  static Optional<Path> onPath(String command) {
    for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
      Path p = Path.of(dir, command);
      if (!dir.isEmpty() && Files.isExecutable(p)) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  static String kustomize(Path kubectl, Path dir) throws IOException, InterruptedException {
    Path err = Files.createTempFile("kustomize", ".err");
    try {
      Process p =
          new ProcessBuilder(kubectl.toString(), "kustomize", dir.toString())
              .redirectError(err.toFile())
              .start();
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
      assertThat(p.exitValue()).as("kubectl kustomize %s: %s", dir, Files.readString(err)).isZero();
      return new String(out, StandardCharsets.UTF_8);
    } finally {
      Files.deleteIfExists(err);
    }
  }

  private List<Map<String, Object>> workloads() {
    return base.stream().filter(d -> Set.of("Deployment", "DaemonSet").contains(kind(d))).toList();
  }

  private static List<Map<String, Object>> allContainers(Map<String, Object> workload) {
    Map<String, Object> pod = map(workload, "spec", "template", "spec");
    List<Map<String, Object>> all = new ArrayList<>(maps(pod, "containers"));
    all.addAll(maps(pod, "initContainers"));
    return all;
  }

  private static Map<String, Object> container(Map<String, Object> workload, String name) {
    return maps(workload, "spec", "template", "spec", "containers").stream()
        .filter(c -> name.equals(c.get("name")))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no container " + name + " in " + name(workload)));
  }

  private static List<String> args(Map<String, Object> container) {
    return strings(list(container, "args"));
  }

  /** The value of a {@code --name=value} argument. */
  private static String flag(Map<String, Object> container, String name) {
    return args(container).stream()
        .filter(a -> a.startsWith(name + "="))
        .map(a -> a.substring(name.length() + 1))
        .findFirst()
        .orElseThrow(() -> new AssertionError(str(container, "name") + " has no " + name));
  }

  private static String env(Map<String, Object> container, String name) {
    return maps(container, "env").stream()
        .filter(e -> name.equals(e.get("name")))
        .map(e -> String.valueOf(e.get("value")))
        .findFirst()
        .orElseThrow(() -> new AssertionError(str(container, "name") + " has no env " + name));
  }

  private static String envFieldRef(Map<String, Object> container, String name) {
    return maps(container, "env").stream()
        .filter(e -> name.equals(e.get("name")))
        .map(e -> str(e, "valueFrom", "fieldRef", "fieldPath"))
        .findFirst()
        .orElseThrow();
  }

  /** A probe's port, with a named port resolved to its number. */
  private static String probePort(Map<String, Object> container, String probe) {
    String port = str(container, probe, "httpGet", "port");
    if (port.matches("\\d+")) {
      return port;
    }
    return maps(container, "ports").stream()
        .filter(p -> port.equals(p.get("name")))
        .map(p -> p.get("containerPort").toString())
        .findFirst()
        .orElseThrow(() -> new AssertionError("no port named " + port));
  }

  /** Volume name to host path, for the pod's hostPath volumes. */
  private static Map<String, String> hostPaths(Map<String, Object> podSpec) {
    Map<String, String> result = new HashMap<>();
    for (Map<String, Object> v : maps(podSpec, "volumes")) {
      if (v.containsKey("hostPath")) {
        result.put(v.get("name").toString(), str(v, "hostPath", "path"));
      }
    }
    return result;
  }

  private static Map<String, Object> mountOfHost(
      Map<String, Object> container, Map<String, String> hostPaths, String hostPath) {
    return maps(container, "volumeMounts").stream()
        .filter(m -> hostPath.equals(hostPaths.get(m.get("name").toString())))
        .findFirst()
        .orElseThrow(
            () -> new AssertionError(str(container, "name") + " does not mount host " + hostPath));
  }

  private static String mountPathOfHost(
      Map<String, Object> container, Map<String, String> hostPaths, String hostPath) {
    return mountOfHost(container, hostPaths, hostPath).get("mountPath").toString();
  }

  /** The propagation of the mount of a host path, and that it is mounted at the same path. */
  private static String hostMountOf(
      Map<String, Object> container, Map<String, String> hostPaths, String hostPath) {
    Map<String, Object> m = mountOfHost(container, hostPaths, hostPath);
    assertThat(m.get("mountPath"))
        .as("mounted at the host's path: the driver's paths are the host's")
        .isEqualTo(hostPath);
    return String.valueOf(m.get("mountPropagation"));
  }

  /** The host path of a path inside a container, through its hostPath mounts. */
  private static String hostSocket(
      Map<String, Object> container, Map<String, String> hostPaths, String path) {
    String best = null;
    String bestMount = "";
    for (Map<String, Object> m : maps(container, "volumeMounts")) {
      String mountPath = m.get("mountPath").toString();
      String host = hostPaths.get(m.get("name").toString());
      if (host != null
          && path.startsWith(mountPath + "/")
          && mountPath.length() > bestMount.length()) {
        bestMount = mountPath;
        best = host + path.substring(mountPath.length());
      }
    }
    assertThat(best).as(path + " of " + str(container, "name") + " is on a host path").isNotNull();
    return best;
  }

  /** "group/resource[@namespace]:verb" for every rule bound to the ServiceAccount. */
  private static Set<String> grants(List<Map<String, Object>> docs, String serviceAccount) {
    Set<String> result = new TreeSet<>();
    for (Map<String, Object> binding : docs) {
      if (!Set.of("RoleBinding", "ClusterRoleBinding").contains(kind(binding))) {
        continue;
      }
      boolean bound =
          maps(binding, "subjects").stream()
              .anyMatch(
                  s ->
                      "ServiceAccount".equals(s.get("kind"))
                          && serviceAccount.equals(s.get("name"))
                          && "jfs-csi".equals(s.get("namespace")));
      if (!bound) {
        continue;
      }
      String roleKind = str(binding, "roleRef", "kind");
      Map<String, Object> role = one(docs, roleKind, str(binding, "roleRef", "name"));
      String scope =
          kind(binding).equals("RoleBinding") ? "@" + str(binding, "metadata", "namespace") : "";
      for (Map<String, Object> rule : maps(role, "rules")) {
        assertThat(rule).doesNotContainKeys("nonResourceURLs", "resourceNames");
        for (String group : strings(list(rule, "apiGroups"))) {
          for (String resource : strings(list(rule, "resources"))) {
            for (String verb : strings(list(rule, "verbs"))) {
              assertThat(List.of(group, resource, verb)).doesNotContain("*");
              result.add(group + "/" + resource + scope + ":" + verb);
            }
          }
        }
      }
    }
    return result;
  }

  private static Map<String, String> secret(String name, String namespace) {
    Map<String, Object> s =
        examples.stream()
            .filter(
                d ->
                    kind(d).equals("Secret")
                        && name(d).equals(name)
                        && namespace.equals(str(d, "metadata", "namespace")))
            .findFirst()
            .orElseThrow(() -> new AssertionError("no example Secret " + namespace + "/" + name));
    assertThat(s).as("examples write Secrets as stringData").doesNotContainKey("data");
    return strings(map(s, "stringData"));
  }

  private static Map<String, Object> one(List<Map<String, Object>> docs, String kind, String name) {
    List<Map<String, Object>> found =
        docs.stream().filter(d -> kind.equals(kind(d)) && name.equals(name(d))).toList();
    assertThat(found).as(kind + "/" + name).hasSize(1);
    return found.getFirst();
  }

  private static String kind(Map<String, Object> doc) {
    return String.valueOf(doc.get("kind"));
  }

  private static String name(Map<String, Object> doc) {
    return str(doc, "metadata", "name");
  }

  private static Object at(Object node, String... path) {
    Object current = node;
    for (String key : path) {
      if (!(current instanceof Map<?, ?> m) || !m.containsKey(key)) {
        return null;
      }
      current = m.get(key);
    }
    return current;
  }

  private static String str(Object node, String... path) {
    Object value = at(node, path);
    if (value == null) {
      throw new AssertionError("missing " + String.join(".", path));
    }
    assertThat(value).as(String.join(".", path)).isInstanceOf(String.class);
    return (String) value;
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object node, String... path) {
    Object value = at(node, path);
    if (value == null) {
      throw new AssertionError("missing " + String.join(".", path));
    }
    assertThat(value).as(String.join(".", path)).isInstanceOf(Map.class);
    return (Map<String, Object>) value;
  }

  private static List<?> list(Object node, String... path) {
    Object value = at(node, path);
    if (value == null) {
      return List.of();
    }
    assertThat(value).as(String.join(".", path)).isInstanceOf(List.class);
    return (List<?>) value;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> maps(Object node, String... path) {
    List<?> l = list(node, path);
    assertThat(l).as(String.join(".", path)).allMatch(e -> e instanceof Map);
    return (List<Map<String, Object>>) l;
  }

  private static List<String> strings(List<?> l) {
    assertThat(l).allMatch(e -> e instanceof String);
    return l.stream().map(String.class::cast).toList();
  }

  private static Map<String, String> strings(Map<String, Object> m) {
    Map<String, String> result = new LinkedHashMap<>();
    m.forEach(
        (k, v) -> {
          assertThat(v).as(k).isInstanceOf(String.class);
          result.put(k, (String) v);
        });
    return result;
  }

  /**
   * The documents of a YAML stream, through snakeyaml-engine (in the jar through fabric8) with the
   * failsafe schema: every scalar stays a string, as the assertions compare them.
   */
  static final class Yaml {
    private Yaml() {}

    @SuppressWarnings("unchecked")
    static List<Map<String, Object>> documents(String text) {
      Load load = new Load(LoadSettings.builder().setSchema(new FailsafeSchema()).build());
      List<Map<String, Object>> docs = new ArrayList<>();
      for (Object doc : load.loadAllFromString(text)) {
        if (doc != null) {
          assertThat(doc).isInstanceOf(Map.class);
          docs.add((Map<String, Object>) doc);
        }
      }
      return docs;
    }
  }
}

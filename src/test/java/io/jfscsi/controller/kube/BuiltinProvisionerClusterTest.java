package io.jfscsi.controller.kube;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.awaitility.Awaitility.await;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.ConfigMapBuilder;
import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.coordination.v1.Lease;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.Logs;
import io.jfscsi.testing.ManifestRbac;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The built-in provisioner against a real kube-apiserver and kube-controller-manager (which binds
 * claims to volumes): real drivers with roles = [controller] make each volume's sub-directory on
 * disk through the embedded FUSE client of a {@code local://} metaurl. The drivers authenticate as
 * a ServiceAccount bound to the rules of deploy/base/rbac-controller.yaml, so the manifests' RBAC
 * is exercised too. Each test class uses a driver name of its own, so other drivers on the shared
 * control plane never see its claims.
 */
class BuiltinProvisionerClusterTest {

  @TempDir static Path dir;

  static KubeCluster cluster;
  static KubernetesClient kube;
  static String ns;
  static String driverName;
  static Path kubeconfig;
  static DriverFixture driver;
  static final ListAppender<ILoggingEvent> LOGS = new ListAppender<>();
  static final Logger LOGGER = (Logger) LoggerFactory.getLogger("io.jfscsi");

  @BeforeAll
  static void start() throws Exception {
    HostRequirements.requireFuse();
    LOGS.start();
    LOGGER.addAppender(LOGS);
    cluster = KubeCluster.shared();
    kube = cluster.client();
    ns = cluster.newNamespace("provisioner");
    driverName = ns + ".csi.juicefs.com";
    kubeconfig = controllerAccount(ns, dir.resolve("controller.kubeconfig"));
    driver = controller(dir.resolve("a")).start();
  }

  @AfterAll
  static void stop() throws Exception {
    LOGGER.detachAppender(LOGS);
    if (driver != null) {
      driver.close();
    }
    if (kube != null && ns != null) {
      kube.storage().v1().storageClasses().withLabel("jfs-csi.io/test-ns", ns).delete();
      ManifestRbac.deleteClusterWide(kube, ns);
    }
  }

  /** A controller driver in {@code home}, builtin provisioner, short leases and backoff. */
  static DriverFixture controller(Path home) throws Exception {
    Files.createDirectories(home);
    return new DriverFixture(home)
        // Replicas of one provisioner share the test's data directory, beside their homes.
        .with("local.allowed-roots", List.of(home.getParent().toString()))
        .with("roles", List.of("controller"))
        .with("driver-name", driverName)
        .with("controller.provisioner", "builtin")
        .with("kubernetes.kubeconfig", kubeconfig.toString())
        .with("kubernetes.namespace", ns)
        .with("controller.leader-election.lease-duration", "4s")
        .with("controller.leader-election.renew-deadline", "3s")
        .with("controller.leader-election.retry-period", "500ms")
        .with("controller.retry-backoff.min", "500ms")
        .with("controller.retry-backoff.max", "4s");
  }

  /**
   * The ServiceAccount jfs-csi-controller in {@code namespace} with the rules of
   * deploy/base/rbac-controller.yaml (cluster-wide names made unique); its kubeconfig.
   */
  static Path controllerAccount(String namespace, Path file) throws Exception {
    return ManifestRbac.bind(cluster, namespace, Path.of("deploy/base/rbac-controller.yaml"), file);
  }

  static void secret(String name, Map<String, String> data) {
    kube.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName(name)
                .endMetadata()
                .withStringData(data)
                .build())
        .create();
  }

  static Map<String, String> fs(Path data) {
    return Map.of("name", "testfs", "metaurl", "local://" + data);
  }

  static String storageClass(
      String suffix, String reclaim, String secretName, Map<String, String> extra) {
    String name = ns + "-" + suffix;
    Map<String, String> parameters =
        new HashMap<>(
            Map.of(
                "csi.storage.k8s.io/provisioner-secret-name", secretName,
                "csi.storage.k8s.io/provisioner-secret-namespace", "${pvc.namespace}",
                "csi.storage.k8s.io/node-publish-secret-name", secretName,
                "csi.storage.k8s.io/node-publish-secret-namespace", ns,
                "juicefs/mount-delete-delay", "1m"));
    parameters.putAll(extra);
    StorageClass sc =
        new StorageClassBuilder()
            .withNewMetadata()
            .withName(name)
            .addToLabels("jfs-csi.io/test-ns", ns)
            .endMetadata()
            .withProvisioner(driverName)
            .withReclaimPolicy(reclaim)
            .withVolumeBindingMode("Immediate")
            .withParameters(parameters)
            .withMountOptions("cache-size=100")
            .build();
    kube.storage().v1().storageClasses().resource(sc).create();
    return name;
  }

  static PersistentVolumeClaim claim(
      String namespace,
      String name,
      String storageClass,
      Map<String, String> labels,
      Map<String, String> annotations) {
    return ProvisionedClaims.claim(kube, namespace, name, storageClass, labels, annotations, null);
  }

  static PersistentVolume awaitBound(String namespace, PersistentVolumeClaim pvc) {
    return ProvisionedClaims.awaitBound(kube, namespace, pvc);
  }

  static List<Event> events(String namespace, String involvedName) {
    return ProvisionedClaims.events(kube, namespace, involvedName);
  }

  // ------------------------------------------------------------------ tests

  @Test
  void aDynamicClaimGetsAVolumeThatBindsAndDeleteRemovesBoth() throws Exception {
    secret("fs-delete", fs(driver.data));
    String sc = storageClass("delete", "Delete", "fs-delete", Map.of());
    PersistentVolumeClaim pvc = claim(ns, "data", sc, Map.of(), Map.of());

    PersistentVolume pv = awaitBound(ns, pvc);
    String pvName = "pvc-" + pvc.getMetadata().getUid();
    assertThat(pv.getMetadata().getAnnotations())
        .containsEntry("pv.kubernetes.io/provisioned-by", driverName);
    var csi = pv.getSpec().getCsi();
    assertThat(csi.getDriver()).isEqualTo(driverName);
    assertThat(csi.getVolumeHandle()).isEqualTo(pvName);
    assertThat(csi.getFsType()).isEqualTo("juicefs");
    assertThat(csi.getVolumeAttributes())
        .containsEntry("subPath", pvName)
        .containsEntry("juicefs/mount-delete-delay", "1m")
        .doesNotContainKeys("csi.storage.k8s.io/provisioner-secret-name");
    assertThat(csi.getNodePublishSecretRef().getName()).isEqualTo("fs-delete");
    assertThat(csi.getNodePublishSecretRef().getNamespace()).isEqualTo(ns);
    assertThat(pv.getSpec().getCapacity().get("storage")).isEqualTo(new Quantity("1Gi"));
    assertThat(pv.getSpec().getAccessModes()).containsExactly("ReadWriteMany");
    assertThat(pv.getSpec().getStorageClassName()).isEqualTo(sc);
    assertThat(pv.getSpec().getPersistentVolumeReclaimPolicy()).isEqualTo("Delete");
    assertThat(pv.getSpec().getMountOptions()).containsExactly("cache-size=100");
    assertThat(pv.getSpec().getClaimRef().getUid()).isEqualTo(pvc.getMetadata().getUid());
    assertThat(driver.data.resolve(pvName)).isDirectory();
    Files.writeString(driver.data.resolve(pvName).resolve("file"), "payload");
    assertThat(events(ns, "data")).extracting(Event::getReason).contains("ProvisioningSucceeded");

    kube.persistentVolumeClaims().inNamespace(ns).withName("data").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> kube.persistentVolumes().withName(pvName).get() == null);
    assertThat(driver.data.resolve(pvName)).doesNotExist();
  }

  static void allowExpansion(String storageClass) {
    kube.storage()
        .v1()
        .storageClasses()
        .withName(storageClass)
        .edit(c -> new StorageClassBuilder(c).withAllowVolumeExpansion(true).build());
  }

  static PersistentVolumeClaim resize(String name, String size) {
    return kube.persistentVolumeClaims()
        .inNamespace(ns)
        .withName(name)
        .edit(
            c ->
                new PersistentVolumeClaimBuilder(c)
                    .editSpec()
                    .editResources()
                    .addToRequests("storage", new Quantity(size))
                    .endResources()
                    .endSpec()
                    .build());
  }

  @Test
  void aGrowingClaimHasItsVolumeExpandedAndItsCapacityUpdatedAsExternalResizerWould()
      throws Exception {
    secret("fs-resize", fs(driver.data));
    String sc =
        storageClass(
            "resize",
            "Delete",
            "fs-resize",
            Map.of(
                "csi.storage.k8s.io/controller-expand-secret-name",
                "fs-resize",
                "csi.storage.k8s.io/controller-expand-secret-namespace",
                ns));
    allowExpansion(sc);
    PersistentVolumeClaim pvc = claim(ns, "growing", sc, Map.of(), Map.of());
    PersistentVolume pv = awaitBound(ns, pvc);
    String pvName = pv.getMetadata().getName();
    assertThat(pv.getSpec().getCsi().getControllerExpandSecretRef().getName())
        .isEqualTo("fs-resize");
    assertThat(pv.getSpec().getCsi().getVolumeAttributes()).containsEntry("capacity", "1073741824");

    // The API server's PersistentVolumeClaimResize admission lets a bound claim grow.
    resize("growing", "3Gi");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () -> {
              PersistentVolumeClaim now =
                  kube.persistentVolumeClaims().inNamespace(ns).withName("growing").get();
              assertThat(now.getStatus().getCapacity().get("storage"))
                  .isEqualTo(new Quantity("3Gi"));
            });
    assertThat(kube.persistentVolumes().withName(pvName).get().getSpec().getCapacity())
        .containsEntry("storage", new Quantity("3Gi"));
    PersistentVolumeClaim resized =
        kube.persistentVolumeClaims().inNamespace(ns).withName("growing").get();
    assertThat(resized.getStatus().getConditions())
        .extracting(c -> c.getType())
        .doesNotContain("Resizing", "FileSystemResizePending");
    assertThat(events(ns, "growing"))
        .extracting(Event::getReason)
        .contains("Resizing", "VolumeResizeSuccessful")
        .doesNotContain("VolumeResizeFailed");
    // The controller's catalog knows the new size: a later ControllerExpandVolume to it is a no-op.
    assertThat(driver.dir.resolve("state").resolve("volumes").resolve(pvName + ".properties"))
        .content()
        .contains("current-bytes=" + (3L << 30));
  }

  @Test
  void aGrowingClaimWithoutAnExpandSecretGetsVolumeResizeFailedAndKeepsItsSize() throws Exception {
    secret("fs-noexpand", fs(driver.data));
    String sc = storageClass("noexpand", "Delete", "fs-noexpand", Map.of());
    allowExpansion(sc);
    PersistentVolumeClaim pvc = claim(ns, "stuck", sc, Map.of(), Map.of());
    PersistentVolume pv = awaitBound(ns, pvc);
    resize("stuck", "2Gi");
    await()
        .atMost(Duration.ofSeconds(60))
        .untilAsserted(
            () ->
                assertThat(events(ns, "stuck"))
                    .filteredOn(e -> "VolumeResizeFailed".equals(e.getReason()))
                    .isNotEmpty()
                    .allSatisfy(
                        e ->
                            assertThat(e.getMessage())
                                .contains("controller-expand-secret-name")
                                .doesNotContain(driver.data.toString())));
    assertThat(
            kube.persistentVolumes()
                .withName(pv.getMetadata().getName())
                .get()
                .getSpec()
                .getCapacity())
        .containsEntry("storage", new Quantity("1Gi"));
    assertThat(
            kube.persistentVolumeClaims()
                .inNamespace(ns)
                .withName("stuck")
                .get()
                .getStatus()
                .getCapacity())
        .containsEntry("storage", new Quantity("1Gi"));
  }

  @Test
  void theApiServerRefusesToGrowAClaimWhoseStorageClassDoesNotAllowExpansion() throws Exception {
    secret("fs-fixed", fs(driver.data));
    String sc = storageClass("fixed", "Delete", "fs-fixed", Map.of());
    PersistentVolumeClaim pvc = claim(ns, "fixed", sc, Map.of(), Map.of());
    awaitBound(ns, pvc);
    assertThatThrownBy(() -> resize("fixed", "2Gi"))
        .isInstanceOf(KubernetesClientException.class)
        .hasMessageContaining("must support resize");
  }

  @Test
  void theControllerFollowsTheQuotaSwitchesOfTheGlobalConfigMapWithItsOwnRbac() throws Exception {
    String name = "quota-switches";
    Config c =
        ConfigFactory.parseMap(
                Map.of(
                    "controller.provisioner",
                    "builtin",
                    "kubernetes.kubeconfig",
                    kubeconfig.toString(),
                    "kubernetes.namespace",
                    ns,
                    "kubernetes.config-map",
                    name))
            .withFallback(ConfigFactory.defaultReference().getConfig("jfs-csi"));
    try (ControllerConfigMap switches = ControllerConfigMap.start(c, Map.of())) {
      assertThat(switches.get()).isEqualTo(QuotaSwitches.DEFAULTS);
      kube.configMaps()
          .inNamespace(ns)
          .resource(
              new ConfigMapBuilder()
                  .withNewMetadata()
                  .withName(name)
                  .endMetadata()
                  .addToData("config.yaml", "enableControllerSetQuota: false\n")
                  .build())
          .create();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> switches.get().equals(new QuotaSwitches(true, false)));
      kube.configMaps()
          .inNamespace(ns)
          .withName(name)
          .edit(
              m ->
                  new ConfigMapBuilder(m)
                      .addToData("config.yaml", "enableSetQuota: false\n")
                      .build());
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> switches.get().equals(new QuotaSwitches(false, true)));
      kube.configMaps().inNamespace(ns).withName(name).delete();
      await()
          .atMost(Duration.ofSeconds(20))
          .until(() -> switches.get().equals(QuotaSwitches.DEFAULTS));
    }
  }

  @Test
  void pathPatternUsesLabelsAndAnnotationsAndRetainKeepsVolumeAndDirectory() throws Exception {
    secret("fs-retain", fs(driver.data));
    String sc =
        storageClass(
            "retain",
            "Retain",
            "fs-retain",
            Map.of(
                "pathPattern",
                "${.pvc.namespace}/${.pvc.labels.team}/${.PVC.annotations.example.com/app}-${.pvc.name}"));
    PersistentVolumeClaim pvc =
        claim(ns, "logs", sc, Map.of("team", "blue"), Map.of("example.com/app", "web"));

    PersistentVolume pv = awaitBound(ns, pvc);
    Path expected = driver.data.resolve(ns).resolve("blue").resolve("web-logs");
    assertThat(expected).isDirectory();
    assertThat(pv.getSpec().getCsi().getVolumeAttributes())
        .containsEntry("subPath", ns + "/blue/web-logs");

    kube.persistentVolumeClaims().inNamespace(ns).withName("logs").delete();
    String pvName = pv.getMetadata().getName();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                "Released"
                    .equals(
                        kube.persistentVolumes().withName(pvName).get().getStatus().getPhase()));
    Thread.sleep(3000); // give a wrong deletion time to happen
    assertThat(kube.persistentVolumes().withName(pvName).get()).isNotNull();
    assertThat(expected).isDirectory();
    kube.persistentVolumes().withName(pvName).delete();
  }

  @Test
  void aClaimWaitingForItsFirstConsumerGetsTheChosenNodesTemplatesEverywhere() throws Exception {
    String nodeName = ns + "-worker";
    cluster.createNode(nodeName);
    try {
      kube.nodes()
          .withName(nodeName)
          .edit(
              n -> {
                n.getMetadata().getLabels().put("topology.kubernetes.io/zone", "z1");
                n.getMetadata().setAnnotations(Map.of("rack", "r7"));
                n.getSpec().setPodCIDR("10.9.8.0/24");
                return n;
              });
      secret("fs-wffc", fs(driver.data));
      Map<String, String> parameters =
          new HashMap<>(
              Map.of(
                  "csi.storage.k8s.io/provisioner-secret-name",
                  "fs-wffc",
                  "csi.storage.k8s.io/provisioner-secret-namespace",
                  ns,
                  "csi.storage.k8s.io/node-publish-secret-name",
                  "fs-wffc",
                  "csi.storage.k8s.io/node-publish-secret-namespace",
                  ns,
                  "pathPattern",
                  "${.node.labels.topology.kubernetes.io/zone}/${.node.name}/"
                      + "${.pvc.annotations.example.com/app}",
                  "juicefs/mount-cpu-limit",
                  "${.pvc.annotations.example.com/cpu}"));
      String sc = ns + "-wffc";
      kube.storage()
          .v1()
          .storageClasses()
          .resource(
              new StorageClassBuilder()
                  .withNewMetadata()
                  .withName(sc)
                  .addToLabels("jfs-csi.io/test-ns", ns)
                  .endMetadata()
                  .withProvisioner(driverName)
                  .withReclaimPolicy("Retain")
                  .withVolumeBindingMode("WaitForFirstConsumer")
                  .withParameters(parameters)
                  .withMountOptions("log-id=${.node.annotations.rack}-${.pvc.labels.team}")
                  .build())
          .create();
      PersistentVolumeClaim pvc =
          claim(
              ns,
              "near",
              sc,
              Map.of("team", "blue"),
              Map.of("example.com/app", "web", "example.com/cpu", "1500m"));
      // What kube-scheduler does when it places the claim's first pod (none runs here).
      kube.persistentVolumeClaims()
          .inNamespace(ns)
          .withName("near")
          .edit(
              c -> {
                c.getMetadata()
                    .getAnnotations()
                    .put("volume.kubernetes.io/selected-node", nodeName);
                return c;
              });

      PersistentVolume pv = awaitBound(ns, pvc);
      Path expected = driver.data.resolve("z1").resolve(nodeName).resolve("web");
      assertThat(expected).isDirectory();
      assertThat(pv.getSpec().getCsi().getVolumeAttributes())
          .containsEntry("subPath", "z1/" + nodeName + "/web")
          .containsEntry("juicefs/mount-cpu-limit", "1500m")
          .containsEntry("pathPattern", "z1/" + nodeName + "/web");
      assertThat(pv.getSpec().getMountOptions()).containsExactly("log-id=r7-blue");
      kube.persistentVolumeClaims().inNamespace(ns).withName("near").delete();
      kube.persistentVolumes().withName(pv.getMetadata().getName()).delete();
    } finally {
      cluster.deleteNode(nodeName);
    }
  }

  @Test
  void aSubPathSharedByAnotherVolumeIsKeptUntilTheLastOneGoes() throws Exception {
    secret("fs-shared", fs(driver.data));
    String sc = storageClass("shared", "Delete", "fs-shared", Map.of("pathPattern", "common"));
    PersistentVolume one = awaitBound(ns, claim(ns, "one", sc, Map.of(), Map.of()));
    PersistentVolume two = awaitBound(ns, claim(ns, "two", sc, Map.of(), Map.of()));
    Path common = driver.data.resolve("common");
    assertThat(common).isDirectory();
    Files.writeString(common.resolve("kept"), "x");

    kube.persistentVolumeClaims().inNamespace(ns).withName("one").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> kube.persistentVolumes().withName(one.getMetadata().getName()).get() == null);
    assertThat(common.resolve("kept")).exists();

    kube.persistentVolumeClaims().inNamespace(ns).withName("two").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> kube.persistentVolumes().withName(two.getMetadata().getName()).get() == null);
    assertThat(common).doesNotExist();
  }

  @Test
  void secretFinalizerGuardsTheSecretUntilTheLastVolumeIsDeleted() throws Exception {
    secret("fs-final", fs(driver.data));
    String sc = storageClass("final", "Delete", "fs-final", Map.of("secretFinalizer", "true"));
    PersistentVolume one = awaitBound(ns, claim(ns, "fin-one", sc, Map.of(), Map.of()));
    PersistentVolume two = awaitBound(ns, claim(ns, "fin-two", sc, Map.of(), Map.of()));
    assertThat(finalizersOf("fs-final")).containsExactly("juicefs.com/finalizer");
    assertThat(one.getSpec().getCsi().getVolumeAttributes())
        .containsEntry("secretFinalizer", "true");

    kube.persistentVolumeClaims().inNamespace(ns).withName("fin-one").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> kube.persistentVolumes().withName(one.getMetadata().getName()).get() == null);
    assertThat(finalizersOf("fs-final"))
        .as("another volume still needs the secret")
        .containsExactly("juicefs.com/finalizer");

    kube.persistentVolumeClaims().inNamespace(ns).withName("fin-two").delete();
    await()
        .atMost(Duration.ofSeconds(60))
        .until(() -> kube.persistentVolumes().withName(two.getMetadata().getName()).get() == null);
    assertThat(finalizersOf("fs-final")).isEmpty();
    assertThat(driver.data.resolve(two.getMetadata().getName())).doesNotExist();

    // Retain never adds it (the Go driver's rule: no deletion will need the secret).
    secret("fs-final-retain", fs(driver.data));
    String retain =
        storageClass(
            "final-retain", "Retain", "fs-final-retain", Map.of("secretFinalizer", "true"));
    PersistentVolume kept = awaitBound(ns, claim(ns, "fin-kept", retain, Map.of(), Map.of()));
    assertThat(finalizersOf("fs-final-retain")).isEmpty();
    kube.persistentVolumeClaims().inNamespace(ns).withName("fin-kept").delete();
    kube.persistentVolumes().withName(kept.getMetadata().getName()).delete();
  }

  static List<String> finalizersOf(String secret) {
    List<String> f =
        kube.secrets().inNamespace(ns).withName(secret).get().getMetadata().getFinalizers();
    return f == null ? List.of() : f;
  }

  @Test
  void aMissingSecretKeyIsAnEventOnTheClaimInPlainWordsWithoutSecretValues() throws Exception {
    secret("fs-broken", Map.of("name", "testfs", "secret-key", "TOPSECRET-VALUE-42"));
    String sc = storageClass("broken", "Delete", "fs-broken", Map.of());
    PersistentVolumeClaim pvc = claim(ns, "broken", sc, Map.of(), Map.of());

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events(ns, "broken").stream()
                    .anyMatch(e -> "ProvisioningFailed".equals(e.getReason())));
    // Retried with backoff: more than one attempt, still failing, still pending.
    await()
        .atMost(Duration.ofSeconds(30))
        .until(
            () ->
                events(ns, "broken").stream()
                        .filter(e -> "ProvisioningFailed".equals(e.getReason()))
                        .count()
                    >= 2);
    List<Event> failures =
        events(ns, "broken").stream()
            .filter(e -> "ProvisioningFailed".equals(e.getReason()))
            .toList();
    assertThat(events(ns, "broken")).noneMatch(e -> e.getMessage().contains("TOPSECRET"));
    assertThat(failures)
        .allSatisfy(
            e -> {
              assertThat(e.getType()).isEqualTo("Warning");
              assertThat(e.getMessage()).contains("metaurl").doesNotContain("TOPSECRET");
            });
    assertThat(
            kube.persistentVolumeClaims()
                .inNamespace(ns)
                .withName("broken")
                .get()
                .getStatus()
                .getPhase())
        .isEqualTo("Pending");
    assertThat(kube.persistentVolumes().withName("pvc-" + pvc.getMetadata().getUid()).get())
        .isNull();
    assertThat(Logs.snapshot(LOGS))
        .extracting(ILoggingEvent::getFormattedMessage)
        .anyMatch(m -> m.contains("metaurl"))
        .noneMatch(m -> m.contains("TOPSECRET"));

    // Fixed secret: the next retry provisions it.
    kube.secrets()
        .inNamespace(ns)
        .withName("fs-broken")
        .edit(s -> new SecretBuilder(s).withData(null).withStringData(fs(driver.data)).build());
    awaitBound(ns, pvc);
  }

  @Test
  void aMissingSecretIsAnEventToo() {
    String sc = storageClass("nosecret", "Delete", "no-such-secret", Map.of());
    claim(ns, "orphan", sc, Map.of(), Map.of());
    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events(ns, "orphan").stream()
                    .anyMatch(
                        e ->
                            "ProvisioningFailed".equals(e.getReason())
                                && e.getMessage()
                                    .contains("secret " + ns + "/no-such-secret does not exist")));
  }

  /**
   * A StorageClass whose mountOptions every publish would refuse (writeback) gets no PV (and no
   * directory) that no pod could mount: the claim's event says why, in the node's words.
   */
  @Test
  void aStorageClassAskingForWritebackIsRefusedOnTheClaim() {
    secret("fs-writeback", fs(driver.data));
    String name = ns + "-writeback";
    kube.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(name)
                .addToLabels("jfs-csi.io/test-ns", ns)
                .endMetadata()
                .withProvisioner(driverName)
                .withReclaimPolicy("Delete")
                .withVolumeBindingMode("Immediate")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name",
                        "fs-writeback",
                        "csi.storage.k8s.io/provisioner-secret-namespace",
                        ns))
                .withMountOptions("cache-size=100", "writeback")
                .build())
        .create();
    PersistentVolumeClaim pvc = claim(ns, "writeback", name, Map.of(), Map.of());

    await()
        .atMost(Duration.ofSeconds(60))
        .until(
            () ->
                events(ns, "writeback").stream()
                    .anyMatch(
                        e ->
                            "ProvisioningFailed".equals(e.getReason())
                                && e.getMessage().contains("mount option 'writeback'")
                                && e.getMessage().contains("is refused: with writeback")));
    assertThat(kube.persistentVolumes().withName("pvc-" + pvc.getMetadata().getUid()).get())
        .isNull();
    assertThat(driver.data.resolve("pvc-" + pvc.getMetadata().getUid())).doesNotExist();
  }

  // ------------------------------------------------------------------ leader election

  @Test
  void onlyTheLeaderProvisionsAndTheOtherTakesOverWhenItStops() throws Exception {
    // Two more controllers in a namespace (and so a Lease) of their own, same driver name as
    // the class's: stop the class's driver from competing by giving them another name.
    OwnDriver own = ownDriver("leader");
    String leNs = own.namespace();
    String leDriver = own.driver();
    Path leKubeconfig = own.kubeconfig();
    Path data = own.data();
    String scName = own.storageClass();
    DriverFixture[] drivers = new DriverFixture[2];
    try {
      for (int i = 0; i < 2; i++) {
        drivers[i] =
            controller(dir.resolve("le" + i))
                .with("driver-name", leDriver)
                .with("kubernetes.kubeconfig", leKubeconfig.toString())
                .with("kubernetes.namespace", leNs)
                .start();
      }
      await()
          .atMost(Duration.ofSeconds(30))
          .until(
              () ->
                  kube.leases()
                          .inNamespace(leNs)
                          .withName(ProvisionerSettings.leaseName(leDriver))
                          .get()
                      != null);

      PersistentVolumeClaim first = claim(leNs, "first", scName, Map.of(), Map.of());
      PersistentVolume pv = awaitBound(leNs, first);
      assertThat(data.resolve(pv.getMetadata().getName())).isDirectory();
      // One provisioning: one success event, one catalog entry, in the leader's state only.
      Thread.sleep(2000);
      // (kube-controller-manager adds ExternalProvisioning events of its own.)
      assertThat(events(leNs, "first"))
          .extracting(Event::getReason)
          .filteredOn(r -> r.startsWith("Provisioning"))
          .containsExactly("ProvisioningSucceeded");
      int leader = catalogHas(drivers[0], pv) ? 0 : 1;
      assertThat(catalogHas(drivers[leader], pv)).isTrue();
      assertThat(catalogHas(drivers[1 - leader], pv)).isFalse();
      assertThat(kube.persistentVolumes().list().getItems())
          .filteredOn(
              v ->
                  leDriver.equals(
                      v.getSpec().getCsi() == null ? null : v.getSpec().getCsi().getDriver()))
          .hasSize(1);

      // The leader stops (and releases the Lease): the other provisions the next claim.
      drivers[leader].close();
      drivers[leader] = null;
      PersistentVolumeClaim second = claim(leNs, "second", scName, Map.of(), Map.of());
      PersistentVolume pv2 = awaitBound(leNs, second);
      assertThat(catalogHas(drivers[1 - leader], pv2)).isTrue();
      assertThat(data.resolve(pv2.getMetadata().getName())).isDirectory();
      // ... and deletes the first leader's volume with what the PV itself says.
      kube.persistentVolumeClaims().inNamespace(leNs).withName("first").delete();
      await()
          .atMost(Duration.ofSeconds(60))
          .until(() -> kube.persistentVolumes().withName(pv.getMetadata().getName()).get() == null);
      assertThat(data.resolve(pv.getMetadata().getName())).doesNotExist();
    } finally {
      for (DriverFixture d : drivers) {
        if (d != null) {
          d.close();
        }
      }
    }
  }

  @Test
  void aLeaderThatLosesItsLeaseStopsProvisioning() throws Exception {
    OwnDriver own = ownDriver("lost");
    String leNs = own.namespace();
    String leDriver = own.driver();
    Path leKubeconfig = own.kubeconfig();
    String scName = own.storageClass();
    try (DriverFixture only =
        controller(dir.resolve("lost0"))
            .with("driver-name", leDriver)
            .with("kubernetes.kubeconfig", leKubeconfig.toString())
            .with("kubernetes.namespace", leNs)
            .start()) {
      awaitBound(leNs, claim(leNs, "before", scName, Map.of(), Map.of()));

      // Someone else takes the Lease (as a partitioned leader's successor would): this one
      // cannot renew, stops within renew-deadline, and provisions nothing while it is out.
      String lease = ProvisionerSettings.leaseName(leDriver);
      editLease(
          leNs,
          lease,
          l -> {
            l.getSpec().setHolderIdentity("intruder");
            l.getSpec().setLeaseDurationSeconds(3600);
            l.getSpec().setRenewTime(ZonedDateTime.now());
            return l;
          });
      await()
          .atMost(Duration.ofSeconds(15))
          .until(
              () ->
                  Logs.snapshot(LOGS).stream()
                      .anyMatch(
                          e ->
                              e.getFormattedMessage()
                                  .contains(leNs + "/" + lease + " lost: this replica stops")));
      PersistentVolumeClaim during = claim(leNs, "during", scName, Map.of(), Map.of());
      Thread.sleep(4000);
      assertThat(kube.persistentVolumes().withName("pvc-" + during.getMetadata().getUid()).get())
          .isNull();

      // The intruder gives it up: this replica leads again and catches up.
      editLease(
          leNs,
          lease,
          l -> {
            l.getSpec().setLeaseDurationSeconds(1);
            l.getSpec().setRenewTime(ZonedDateTime.now().minusSeconds(10));
            return l;
          });
      awaitBound(leNs, during);
    }
  }

  /**
   * A driver name, namespace (so a Lease), ServiceAccount, file system and StorageClass of a test's
   * own.
   */
  record OwnDriver(
      String namespace, String driver, Path kubeconfig, Path data, String storageClass) {}

  /**
   * Sets up what a leader-election test needs apart from the class's driver: a namespace of its own
   * (so a Lease of its own), a driver name the class's driver does not serve, the controller's
   * ServiceAccount there, a local file system with its Secret, and a StorageClass.
   */
  OwnDriver ownDriver(String prefix) throws Exception {
    String leNs = cluster.newNamespace(prefix);
    String leDriver = leNs + ".csi.juicefs.com";
    Path leKubeconfig = controllerAccount(leNs, dir.resolve(prefix + ".kubeconfig"));
    Path data = Files.createDirectories(dir.resolve(prefix + "-data"));
    kube.secrets()
        .inNamespace(leNs)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("fs")
                .endMetadata()
                .withStringData(fs(data))
                .build())
        .create();
    String scName = leNs + "-sc";
    kube.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(scName)
                .addToLabels("jfs-csi.io/test-ns", ns)
                .endMetadata()
                .withProvisioner(leDriver)
                .withReclaimPolicy("Delete")
                .withParameters(
                    Map.of(
                        "csi.storage.k8s.io/provisioner-secret-name",
                        "fs",
                        "csi.storage.k8s.io/provisioner-secret-namespace",
                        leNs))
                .build())
        .create();
    return new OwnDriver(leNs, leDriver, leKubeconfig, data, scName);
  }

  static boolean catalogHas(DriverFixture d, PersistentVolume pv) {
    return Files.exists(
        d.dir
            .resolve("state")
            .resolve("volumes")
            .resolve(pv.getMetadata().getName() + ".properties"));
  }

  /**
   * Edits the Lease as another replica would, again on a conflict: the leader renews it every retry
   * period, and an edit computed from an older copy is refused with 409.
   */
  static void editLease(String namespace, String name, UnaryOperator<Lease> change) {
    for (int attempt = 1; ; attempt++) {
      try {
        kube.leases().inNamespace(namespace).withName(name).edit(change);
        return;
      } catch (KubernetesClientException e) {
        if (e.getCode() != 409 || attempt == 10) {
          throw e;
        }
      }
    }
  }
}

package io.jfscsi.management.cluster;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeBuilder;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaimBuilder;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodBuilder;
import io.fabric8.kubernetes.api.model.PodStatusBuilder;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.SecretBuilder;
import io.fabric8.kubernetes.api.model.storage.StorageClassBuilder;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.KubeClients;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.Chromium;
import io.jfscsi.testing.KubeCluster;
import io.jfscsi.testing.ManifestRbac;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The cluster page's routes against the real API server (no kubelet: the Mount Pod's status is
 * written as kubelet would): the stream sends a picture at once and a new one when a Mount Pod's
 * client restarts, without being asked; a pod that does not start comes with the doctor's verdict;
 * a volume's detail names Secret keys and never their values; a log is read only from a Mount Pod
 * of that volume.
 */
class ClusterPageClusterTest {

  ActorSystem<Void> system;
  ServerBinding binding;
  ClusterPage page;
  CompletableFuture<?> stream;
  ChromeDriver browser;
  KubernetesClient controller;
  String namespace;

  @AfterEach
  void tearDown() {
    if (browser != null) {
      browser.quit();
    }
    if (stream != null) {
      stream.cancel(true);
    }
    if (page != null) {
      page.close();
    }
    if (system != null) {
      system.terminate();
    }
    if (controller != null) {
      controller.close();
      ManifestRbac.deleteClusterWide(KubeCluster.shared().client(), namespace);
    }
  }

  @Test
  void the_stream_and_the_page_show_changes_as_they_happen_with_verdicts_and_no_secret_values(
      @TempDir Path tmp) throws Exception {
    Chromium.require();
    KubeCluster cluster = KubeCluster.shared();
    KubernetesClient k = cluster.client();
    String ns = cluster.newNamespace("page");
    namespace = ns;
    String driver = ns + ".csi.juicefs.com";
    String node = ns + "-node";
    cluster.createNode(node);
    k.storage()
        .v1()
        .storageClasses()
        .resource(
            new StorageClassBuilder()
                .withNewMetadata()
                .withName(ns + "-sc")
                .endMetadata()
                .withProvisioner(driver)
                .withReclaimPolicy("Retain")
                .build())
        .create();
    k.secrets()
        .inNamespace(ns)
        .resource(
            new SecretBuilder()
                .withNewMetadata()
                .withName("jfs")
                .endMetadata()
                .withStringData(
                    Map.of("name", "vol", "metaurl", "redis://:page-topsecret@redis:6379/1"))
                .build())
        .create();
    String pv = ns + "-pv";
    k.persistentVolumes()
        .resource(
            new PersistentVolumeBuilder()
                .withNewMetadata()
                .withName(pv)
                .endMetadata()
                .withNewSpec()
                .addToCapacity("storage", new Quantity("1Gi"))
                .withAccessModes("ReadWriteMany")
                .withStorageClassName(ns + "-sc")
                .withNewCsi()
                .withDriver(driver)
                .withVolumeHandle(pv)
                .withVolumeAttributes(Map.of("subPath", "data"))
                .withNewNodePublishSecretRef()
                .withNamespace(ns)
                .withName("jfs")
                .endNodePublishSecretRef()
                .endCsi()
                .endSpec()
                .build())
        .create();
    k.persistentVolumeClaims()
        .inNamespace(ns)
        .resource(
            new PersistentVolumeClaimBuilder()
                .withNewMetadata()
                .withName("data")
                .endMetadata()
                .withNewSpec()
                .withStorageClassName(ns + "-sc")
                .withVolumeName(pv)
                .withAccessModes("ReadWriteMany")
                .withNewResources()
                .addToRequests("storage", new Quantity("1Gi"))
                .endResources()
                .endSpec()
                .build())
        .create();
    k.pods()
        .inNamespace(ns)
        .resource(
            new PodBuilder()
                .withNewMetadata()
                .withName("app")
                .endMetadata()
                .withNewSpec()
                .withNodeName(node)
                .addNewContainer()
                .withName("app")
                .withImage("busybox")
                .endContainer()
                .addNewVolume()
                .withName("data")
                .withNewPersistentVolumeClaim()
                .withClaimName("data")
                .endPersistentVolumeClaim()
                .endVolume()
                .endSpec()
                .build())
        .create();
    String target = "/var/lib/kubelet/pods/u/volumes/kubernetes.io~csi/" + pv + "/mount";
    Pod mountPod =
        k.pods()
            .inNamespace(ns)
            .resource(
                new PodBuilder()
                    .withNewMetadata()
                    .withName("juicefs-" + node + "-" + pv + "-abcdef")
                    .withLabels(
                        Map.of(
                            MountPodNames.APP_LABEL,
                            MountPodNames.APP,
                            MountPodNames.VOLUME_ID_LABEL,
                            MountPodNames.volumeLabel(pv)))
                    .withAnnotations(Map.of(MountPodNames.referenceKey(target), target))
                    .endMetadata()
                    .withNewSpec()
                    .withNodeName(node)
                    .addNewContainer()
                    .withName(MountPodNames.CONTAINER)
                    .withImage("juicedata/mount:ce")
                    .endContainer()
                    .endSpec()
                    .build())
            .create();
    setStatus(k, mountPod, true, 0, null);

    // The app pod is a minute old for the page: past the grace, so it is a problem at once.
    Clock later = Clock.offset(Clock.systemUTC(), Duration.ofMinutes(1));
    system =
        ActorSystem.create(
            Behaviors.empty(),
            "cluster-page-test",
            ConfigFactory.parseString("pekko.loglevel=WARNING"));
    // With exactly the rights of the controller's manifest: a route that needs more gets 403s.
    Path kubeconfig =
        ManifestRbac.bind(
            cluster, ns, Path.of("deploy/base/rbac-controller.yaml"), tmp.resolve("kubeconfig"));
    controller = KubeClients.connect(kubeconfig.toString());
    page = new ClusterPage(controller, driver, later);
    binding =
        Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(page.route())
            .toCompletableFuture()
            .get(30, TimeUnit.SECONDS);
    String base = "http://127.0.0.1:" + binding.localAddress().getPort();

    BlockingQueue<String> pictures = new LinkedBlockingQueue<>();
    HttpClient http = HttpClient.newHttpClient();
    stream =
        http.sendAsync(
            HttpRequest.newBuilder(URI.create(base + "/cluster/stream")).build(),
            HttpResponse.BodyHandlers.fromLineSubscriber(
                new Flow.Subscriber<String>() {
                  @Override
                  public void onSubscribe(Flow.Subscription s) {
                    s.request(Long.MAX_VALUE);
                  }

                  @Override
                  public void onNext(String line) {
                    if (line.startsWith("data:")) {
                      pictures.add(line.substring(5));
                    }
                  }

                  @Override
                  public void onError(Throwable t) {}

                  @Override
                  public void onComplete() {}
                }));

    String first =
        next(pictures, p -> p.contains("\"pv\":\"" + pv + "\"") && p.contains("pod-not-starting"));
    assertThat(first)
        .contains("\"name\":\"" + node + "\"", ns + "/app", mountPod.getMetadata().getName())
        .contains("\"references\":1")
        .contains("pod " + ns + "/app is")
        .as("the doctor's verdict on the pod that does not start")
        .contains("\"diagnosis\":{\"side\":")
        .doesNotContain("page-topsecret");

    // kubelet reports that the client restarted: a new picture comes unasked.
    setStatus(k, mountPod, true, 1, Instant.now().toString());
    String restarted = next(pictures, p -> p.contains("mount-pod-restarted"));
    assertThat(restarted).contains("\"restarts\":1", "restarted 1 time", "exit code 137");

    HttpResponse<String> detail =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/cluster/volumes/" + pv)).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(detail.statusCode()).isEqualTo(200);
    assertThat(detail.body())
        .contains("\"secret\":\"" + ns + "/jfs\"", "\"keys\":[\"metaurl\",\"name\"]", target)
        .contains("\"restarts\":1")
        .doesNotContain("page-topsecret");

    HttpResponse<String> notMountPod =
        http.send(
            HttpRequest.newBuilder(
                    URI.create(base + "/cluster/volumes/" + pv + "/log/" + ns + "/app"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(notMountPod.statusCode()).isEqualTo(404);
    assertThat(notMountPod.body()).contains("is no Mount Pod of volume " + pv);

    HttpResponse<String> noVolume =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/cluster/volumes/" + ns + "-nothing"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(noVolume.statusCode()).isEqualTo(404);

    HttpResponse<String> html =
        http.send(
            HttpRequest.newBuilder(URI.create(base + "/cluster/page")).build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(html.body()).contains("new EventSource(\"/cluster/stream\")");

    // The page itself, in Chromium: what it says, a volume opened, and on a phone-sized screen.
    browser = Chromium.start(Files.createDirectories(tmp.resolve("chromium")), 1280, 1000);
    browser.get(base + "/cluster/page");
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(30));
    wait.until(d -> d.findElement(By.id("status")).getText().startsWith("live"));
    WebElement problem =
        wait.until(
            d -> d.findElement(By.cssSelector("#problems .problem[data-kind=pod-not-starting]")));
    assertThat(problem.getText()).contains("pod " + ns + "/app is", "doctor on pod " + ns + "/app");
    assertThat(problem.findElement(By.cssSelector(".side")).getText()).isNotBlank();
    WebElement nodeCard = browser.findElement(By.cssSelector(".node[data-node='" + node + "']"));
    assertThat(nodeCard.findElement(By.cssSelector("tr[data-pod] .restarts")).getText())
        .isEqualTo("1");
    // Other tests share this API server: count only this volume's problems.
    assertThat(browser.findElements(By.cssSelector("#problems .problem[data-volume='" + pv + "']")))
        .hasSize(2);
    assertThat(browser.findElement(By.id("count-unhealthy")).getText()).endsWith(" unhealthy");
    browser.findElement(By.cssSelector("#volumes a.volume[data-pv='" + pv + "']")).click();
    WebElement opened =
        wait.until(
            d -> {
              WebElement box = d.findElement(By.id("detail"));
              return box.getText().contains("keys metaurl, name") ? box : null;
            });
    assertThat(opened.getText()).contains("volume " + pv, target, "restarts 1");
    assertThat(browser.getPageSource()).doesNotContain("page-topsecret");
    // A log opened stays open when a new picture redraws the detail (no kubelet here: what is
    // shown is why the log cannot be read, which is text all the same).
    opened.findElement(By.cssSelector("button.log:not(.previous)")).click();
    String log =
        wait.until(
            d -> {
              String text = d.findElement(By.cssSelector("#detail pre.log")).getText();
              return text.isEmpty() || text.equals("reading…") ? null : text;
            });
    setStatus(k, mountPod, true, 2, Instant.now().toString());
    wait.until(d -> d.findElement(By.id("detail")).getText().contains("restarts 2"));
    assertThat(browser.findElement(By.cssSelector("#detail pre.log")).getText())
        .as("the log read before the redraw")
        .isEqualTo(log);
    Chromium.screenshot(browser, "cluster-page-apiserver");
    Chromium.onAPhone(browser, "cluster-page-apiserver-phone");
  }

  /** The next picture that passes {@code test}, within 30 s. */
  static String next(BlockingQueue<String> pictures, Predicate<String> test) throws Exception {
    long end = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    String last = null;
    while (System.nanoTime() < end) {
      String p = pictures.poll(1, TimeUnit.SECONDS);
      if (p != null) {
        last = p;
        if (test.test(p)) {
          return p;
        }
      }
    }
    throw new AssertionError("no such picture in 30 s; the last one: " + last);
  }

  static void setStatus(KubernetesClient k, Pod pod, boolean ready, int restarts, String lastExit) {
    Pod current =
        k.pods()
            .inNamespace(pod.getMetadata().getNamespace())
            .withName(pod.getMetadata().getName())
            .get();
    ContainerStatusBuilder status =
        new ContainerStatusBuilder()
            .withName(MountPodNames.CONTAINER)
            .withImage("juicedata/mount:ce")
            .withImageID("")
            .withReady(ready)
            .withRestartCount(restarts)
            .withNewState()
            .withNewRunning()
            .withStartedAt(Instant.now().toString())
            .endRunning()
            .endState();
    if (lastExit != null) {
      status
          .withNewLastState()
          .withNewTerminated()
          .withExitCode(137)
          .withReason("Error")
          .withFinishedAt(lastExit)
          .endTerminated()
          .endLastState();
    }
    current.setStatus(
        new PodStatusBuilder().withPhase("Running").withContainerStatuses(status.build()).build());
    k.pods().inNamespace(pod.getMetadata().getNamespace()).resource(current).updateStatus();
  }
}

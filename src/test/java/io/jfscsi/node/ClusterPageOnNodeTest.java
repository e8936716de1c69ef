package io.jfscsi.node;

import static org.assertj.core.api.Assertions.assertThat;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.testing.Chromium;
import io.jfscsi.testing.RealNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.StaleElementReferenceException;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The controller's cluster page in headless Chromium on the real node (deploy/ applied, real
 * kubelet): a healthy volume, then its Mount Pod's client killed, then a pod whose Secret lacks
 * metaurl; what the page says about each, as it happens, without a reload. Screenshots under
 * target/cluster-page-*.png.
 */
class ClusterPageOnNodeTest {
  /** The controller's management HTTP on the node (deploy/overlays/local-node). */
  private static final String PAGE = "http://127.0.0.1:9561/cluster/page";

  private static NodeNamespace space;

  @TempDir Path tmp;
  ChromeDriver browser;

  @BeforeAll
  static void up() {
    space = NodeNamespace.create("node-page");
  }

  @AfterAll
  static void cleanUp() throws IOException {
    if (space != null) {
      space.close();
    }
  }

  @AfterEach
  void quit() {
    if (browser != null) {
      browser.quit();
    }
  }

  @Test
  void the_page_shows_a_healthy_volume_a_killed_client_and_a_broken_secret_live() throws Exception {
    Chromium.require();
    try {
      walkThrough();
    } catch (Exception | AssertionError e) {
      if (browser == null) {
        throw e;
      }
      // What the page said when it did not say what was expected.
      Chromium.screenshot(browser, "cluster-page-node-failed");
      throw new AssertionError(
          e.getMessage() + "\n--- the page:\n" + browser.findElement(By.tagName("main")).getText(),
          e);
    }
  }

  private void walkThrough() throws Exception {
    String pv = space.staticVolume("healthy", Map.of(), List.of());
    space.create(NodeNamespace.app("reader", "healthy", NodeNamespace.READER));
    space.awaitRunning("reader", Duration.ofMinutes(3));

    browser = Chromium.start(Files.createDirectories(tmp.resolve("chromium")), 1280, 1000);
    browser.get(PAGE);
    // The page re-renders live: an element found in one step may be replaced by the next, so
    // every read happens inside a wait that tries again when its element went stale.
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(60));
    wait.ignoring(StaleElementReferenceException.class);
    wait.until(d -> d.findElement(By.id("status")).getText().startsWith("live"));

    // 1. Healthy: the volume, its Mount Pod Ready on the node, the node plugin's report.
    String row =
        wait.until(
            d -> d.findElement(By.cssSelector("#volumes tr[data-pv='" + pv + "']")).getText());
    assertThat(row).contains(space.ns + "/healthy", "healthy");
    Pod first = space.mountPodOf(pv);
    String mountPod = first.getMetadata().getNamespace() + "/" + first.getMetadata().getName();
    // The node's card as one reading: its text, its Mount Pod's row, its link.
    List<String> node =
        wait.until(
            d -> {
              WebElement card = d.findElement(By.cssSelector(".node[data-node='" + node() + "']"));
              String text = card.getText();
              return text.contains("0 stale")
                  ? List.of(
                      text,
                      card.findElement(By.cssSelector("tr[data-pod='" + mountPod + "']")).getText(),
                      card.findElement(By.cssSelector("a.node-page")).getAttribute("href"))
                  : null;
            });
    assertThat(node.get(1)).contains("Ready");
    assertThat(node.get(2)).endsWith(":9560/");
    assertThat(node.get(0)).contains(space.ns + "/reader");
    assertThat(problemsOf(pv)).isEmpty();
    Chromium.screenshot(browser, "cluster-page-node-healthy");

    // 2. The client killed: kubelet restarts the container; the page shows it without a reload.
    Pod serving = space.mountPodOf(pv);
    Path mountPath = Path.of(serving.getMetadata().getAnnotations().get(MountPodNames.MOUNT_PATH));
    ProcessHandle client =
        NodeNamespace.clientServing(mountPath)
            .orElseThrow(() -> new AssertionError("no client serves " + mountPath));
    assertThat(client.destroyForcibly()).isTrue();
    String restarted =
        wait.until(
            d ->
                d
                    .findElements(
                        By.cssSelector("#problems .problem[data-kind=mount-pod-restarted]"))
                    .stream()
                    .filter(p -> pv.equals(p.getAttribute("data-volume")))
                    .map(WebElement::getText)
                    .findFirst()
                    .orElse(null));
    assertThat(restarted)
        .contains("restarted 1 time", "volume " + pv, "doctor on pvc " + space.ns + "/healthy");
    wait.until(
        d -> {
          d.findElement(By.cssSelector("#volumes a.volume[data-pv='" + pv + "']")).click();
          return true;
        });
    String detail =
        wait.until(
            d -> {
              WebElement box = d.findElement(By.id("detail"));
              String text = box.getText();
              return text.contains("keys metaurl, name")
                      && !box.findElements(By.cssSelector("button.log")).isEmpty()
                  ? text
                  : null;
            });
    // The restarted pod, or (when the driver replaced it meanwhile) its successor.
    assertThat(detail).contains("references (1)", "restarts");
    wait.until(
        d -> {
          d.findElement(By.cssSelector("#detail button.log:not(.previous)")).click();
          return true;
        });
    wait.until(
        d -> {
          String log = d.findElement(By.cssSelector("#detail pre.log")).getText();
          return !log.isEmpty() && !log.equals("reading…");
        });
    assertThat(browser.getPageSource())
        .as("the metaurl is the stand-in's path, masked as a secret value")
        .doesNotContain(space.metaurl(pv));
    Chromium.screenshot(browser, "cluster-page-node-killed");

    // 3. A pod whose Secret lacks metaurl: Pending, with the doctor's node-side verdict.
    String broken = space.staticVolume("broken", Map.of(), List.of());
    space
        .kube
        .secrets()
        .inNamespace(space.ns)
        .withName(broken)
        .edit(
            s -> {
              s.setData(Map.of("name", Base64.getEncoder().encodeToString(broken.getBytes())));
              s.setStringData(null);
              return s;
            });
    space.create(NodeNamespace.app("stuck", "broken", NodeNamespace.READER));
    // The problem's text and how many Events it lists, read together.
    List<String> stuck =
        wait.withTimeout(Duration.ofMinutes(2))
            .until(
                d ->
                    d
                        .findElements(
                            By.cssSelector("#problems .problem[data-kind=pod-not-starting]"))
                        .stream()
                        .filter(p -> p.getText().contains(space.ns + "/stuck"))
                        .filter(p -> p.getText().contains("metaurl"))
                        .map(
                            p ->
                                List.of(
                                    p.getText(),
                                    String.valueOf(
                                        p.findElements(By.cssSelector("ul.events li")).size())))
                        .findFirst()
                        .orElse(null));
    assertThat(stuck.get(0))
        .contains("pod not starting (node side)", "metaurl", "volume " + broken);
    assertThat(Integer.parseInt(stuck.get(1)))
        .as("kubelet's FailedMount event with the driver's refusal")
        .isPositive();
    Chromium.screenshot(browser, "cluster-page-node-broken-secret");
    Chromium.onAPhone(browser, "cluster-page-node-phone");
  }

  private List<WebElement> problemsOf(String pv) {
    return browser.findElements(By.cssSelector("#problems .problem[data-volume='" + pv + "']"));
  }

  private static String node() {
    return RealNode.NODE_NAME;
  }
}

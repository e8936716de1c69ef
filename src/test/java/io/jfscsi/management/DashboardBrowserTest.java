package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.Chromium;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver) against a real
 * driver. Keeps a screenshot at target/dashboard.png.
 */
class DashboardBrowserTest {

  @TempDir Path dir;

  DriverFixture fixture;
  ChromeDriver browser;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    Chromium.require();
    fixture = new DriverFixture(dir);
    Files.createDirectories(fixture.data.resolve("pvc-web"));
  }

  @AfterEach
  void tearDown() throws Exception {
    if (browser != null) {
      browser.quit();
    }
    fixture.close();
  }

  @Test
  void showsTheSharedClientWithBothTargetsLive() throws Exception {
    fixture.start();
    int port = fixture.driver().managementPort().orElseThrow();
    browser = Chromium.start(Files.createDirectories(dir.resolve("chromium-profile")), 1400, 900);
    browser.get("http://127.0.0.1:" + port + "/");
    WebDriverWait wait = new WebDriverWait(browser, Duration.ofSeconds(20));
    wait.until(d -> d.findElement(By.id("status")).getText().startsWith("0 client(s)"));

    // Published after the page opened: the page must pick them up by itself.
    Path a = fixture.target("pod-a", "pvc-web");
    Path b = fixture.target("pod-b", "pvc-web");
    fixture.publish("pvc-web", a);
    fixture.publish("pvc-web", b);

    wait.until(
        d -> {
          List<WebElement> rows = d.findElements(By.cssSelector("#clients tbody tr[data-key]"));
          return rows.size() == 1
              && rows.get(0).findElement(By.cssSelector(".state")).getText().equals("READY")
              && rows.get(0).findElement(By.cssSelector(".count")).getText().equals("2");
        });
    WebElement row = browser.findElement(By.cssSelector("#clients tbody tr[data-key]"));
    assertThat(row.findElement(By.cssSelector(".volume")).getText()).isEqualTo("pvc-web");
    assertThat(row.findElement(By.cssSelector(".key")).getText()).startsWith("pvc-web-");
    assertThat(
            row.findElements(By.cssSelector("ul.targets li")).stream()
                .map(WebElement::getText)
                .toList())
        .containsExactlyInAnyOrder(a.toString(), b.toString());
    assertThat(row.findElement(By.cssSelector(".state")).getCssValue("background-color"))
        .isEqualTo("rgba(46, 125, 50, 1)");
    assertThat(row.findElement(By.cssSelector(".restarts")).getText()).isEqualTo("0");
    assertThat(row.findElement(By.cssSelector(".delete-at")).getText()).isEqualTo("—");
    assertThat(browser.findElement(By.id("status")).getText())
        .startsWith("1 client(s), 2 reference(s)");
    wait.until(d -> d.findElement(By.id("events")).getText().contains("appeared"));

    assertThat(Files.size(Chromium.screenshot(browser, "dashboard"))).isGreaterThan(1000);

    // A change while the page is open shows up in the table and in the recent changes.
    fixture.unpublish("pvc-web", b);
    wait.until(
        d ->
            d.findElement(By.cssSelector("#clients tbody tr[data-key] .count"))
                .getText()
                .equals("1"));
    wait.until(d -> d.findElement(By.id("events")).getText().contains("target removed " + b));
  }
}

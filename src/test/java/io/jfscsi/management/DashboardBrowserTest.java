package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.openqa.selenium.By;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.support.ui.WebDriverWait;

/**
 * The dashboard in a real headless Chromium (Debian's chromium and chromium-driver) against a real
 * driver. Keeps a screenshot at target/dashboard.png.
 */
class DashboardBrowserTest {

  static final Path CHROMIUM = Path.of("/usr/bin/chromium");
  static final Path CHROMEDRIVER = Path.of("/usr/bin/chromedriver");

  @TempDir Path dir;

  DriverFixture fixture;
  ChromeDriver browser;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    HostRequirements.require(
        Files.isExecutable(CHROMIUM) && Files.isExecutable(CHROMEDRIVER),
        "chromium and chromedriver (apt-get install chromium chromium-driver)");
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

  static ChromeDriver chromium(Path profile) {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(CHROMIUM.toFile());
    // This network is closed: without these, Chromium's background connections hang.
    options.addArguments(
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1400,900",
        "--user-data-dir=" + profile);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(CHROMEDRIVER.toFile())
            .usingAnyFreePort()
            .build();
    return new ChromeDriver(service, options);
  }

  @Test
  void showsTheSharedClientWithBothTargetsLive() throws Exception {
    fixture.start();
    int port = fixture.driver().managementPort().orElseThrow();
    browser = chromium(Files.createDirectories(dir.resolve("chromium-profile")));
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

    File shot = browser.getScreenshotAs(OutputType.FILE);
    Path kept = Path.of("target", "dashboard.png").toAbsolutePath();
    Files.createDirectories(kept.getParent());
    Files.copy(shot.toPath(), kept, StandardCopyOption.REPLACE_EXISTING);
    System.out.println("dashboard screenshot: " + kept);
    assertThat(Files.size(kept)).isGreaterThan(1000);

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

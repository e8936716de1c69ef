package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;

/** Debian's chromium, headless, through Debian's chromedriver: the page tests' browser. */
public final class Chromium {
  public static final Path BINARY = Path.of("/usr/bin/chromium");
  public static final Path DRIVER = Path.of("/usr/bin/chromedriver");

  private Chromium() {}

  /** Skips (fails in CI) when chromium or chromedriver is missing. */
  public static void require() {
    HostRequirements.require(
        Files.isExecutable(BINARY) && Files.isExecutable(DRIVER),
        "chromium and chromedriver (apt-get install chromium chromium-driver)");
  }

  /** A fresh browser with its own profile in {@code profile}, a window of this size. */
  public static ChromeDriver start(Path profile, int width, int height) {
    ChromeOptions options = new ChromeOptions();
    options.setBinary(BINARY.toFile());
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
        "--window-size=" + width + "," + height,
        "--user-data-dir=" + profile);
    ChromeDriverService service =
        new ChromeDriverService.Builder()
            .usingDriverExecutable(DRIVER.toFile())
            .usingAnyFreePort()
            .build();
    return new ChromeDriver(service, options);
  }

  /**
   * Sizes the window as a phone's (390 x 844), keeps a screenshot target/NAME.png, and fails if the
   * page then scrolls sideways.
   */
  public static void onAPhone(ChromeDriver browser, String name) throws IOException {
    browser.manage().window().setSize(new Dimension(390, 844));
    screenshot(browser, name);
    Object overflow =
        browser.executeScript(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth");
    assertThat(((Number) overflow).intValue())
        .as("no sideways scrolling on a phone-sized screen")
        .isLessThanOrEqualTo(0);
  }

  /** Keeps a screenshot at target/NAME.png for a reviewer; returns where. */
  public static Path screenshot(ChromeDriver browser, String name) throws IOException {
    File shot = browser.getScreenshotAs(OutputType.FILE);
    Path kept = Path.of("target", name + ".png").toAbsolutePath();
    Files.createDirectories(kept.getParent());
    Files.copy(shot.toPath(), kept, StandardCopyOption.REPLACE_EXISTING);
    System.out.println("screenshot: " + kept);
    return kept;
  }
}

package io.jfscsi.testing;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
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

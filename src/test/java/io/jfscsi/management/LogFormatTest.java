package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/** The shipped logback.xml: human lines by default, JSON with JFS_CSI_LOG_FORMAT=json. */
class LogFormatTest {

  private final PrintStream originalErr = System.err;
  private final ByteArrayOutputStream captured = new ByteArrayOutputStream();

  private String logWith(String format) throws Exception {
    if (format == null) {
      System.clearProperty("JFS_CSI_LOG_FORMAT");
    } else {
      System.setProperty("JFS_CSI_LOG_FORMAT", format);
    }
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    configure();
    Logger log = LoggerFactory.getLogger("io.jfscsi.csi.Test");
    log.info("outside a call");
    MDC.put("volume", "pvc-0");
    log.info("creating");
    MDC.put("volume", "pvc-1");
    MDC.put("target", "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc-1/mount");
    try {
      log.info("inside a \"call\"");
    } finally {
      MDC.clear();
    }
    return captured.toString(StandardCharsets.UTF_8);
  }

  private static void configure() throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    context.reset();
    JoranConfigurator configurator = new JoranConfigurator();
    configurator.setContext(context);
    configurator.doConfigure(LogFormatTest.class.getResource("/logback.xml"));
  }

  @AfterEach
  void restore() throws Exception {
    System.setErr(originalErr);
    System.clearProperty("JFS_CSI_LOG_FORMAT");
    configure();
  }

  @Test
  void humanByDefaultWithTheCallsVolumeAndTarget() throws Exception {
    String[] lines = logWith(null).lines().toArray(String[]::new);
    assertThat(lines).hasSize(3);
    assertThat(lines[0])
        .matches(
            "\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  io\\.jfscsi\\.csi\\.Test - " + "outside a call");
    assertThat(lines[1]).endsWith(" - creating [volume=pvc-0]");
    assertThat(lines[2])
        .endsWith(
            " - inside a \"call\" [volume=pvc-1 "
                + "target=/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc-1/mount]");
  }

  @Test
  void jsonOnRequest() throws Exception {
    String[] lines = logWith("json").lines().toArray(String[]::new);
    assertThat(lines).hasSize(3);
    Map<String, Object> outside = Http.map(lines[0]);
    assertThat(outside)
        .containsEntry("level", "INFO")
        .containsEntry("loggerName", "io.jfscsi.csi.Test")
        .containsEntry("formattedMessage", "outside a call");
    assertThat(Http.map(lines[1]).get("mdc")).isEqualTo(Map.of("volume", "pvc-0"));
    Map<String, Object> inside = Http.map(lines[2]);
    assertThat(inside).containsEntry("formattedMessage", "inside a \"call\"");
    assertThat(inside.get("mdc"))
        .isEqualTo(
            Map.of(
                "volume",
                "pvc-1",
                "target",
                "/var/lib/kubelet/pods/p/volumes/kubernetes.io~csi/pvc-1/mount"));
  }
}

package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime.QuotaOutcome;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.testing.Logs;
import io.jfscsi.testing.TestVolumes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * {@code juicefs quota set} as the local runtime runs it, against a fake {@code juicefs} script
 * that records its argv and environment: the exact invocation, the password only in the
 * environment, a failure that says why without a secret, and the embedded default that cannot
 * enforce a quota.
 */
class QuotaCommandTest {
  static final String PASSWORD = "quota-meta-pw-9";

  @TempDir Path base;
  Path argvLog;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger("io.jfscsi");

  @BeforeEach
  void setUp() {
    argvLog = base.resolve("argv.log");
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void tearDown() {
    logger.detachAppender(logs);
  }

  VolumeSettings volume(String id) {
    return SettingsParser.parse(
        new VolumeSource(
            id,
            Map.of("name", "jfsvol", "metaurl", "redis://:" + PASSWORD + "@127.0.0.1:6379/3"),
            Map.of("subPath", id),
            List.of("subdir=/tenants")));
  }

  LocalProcessRuntime runtime(String body) throws Exception {
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/sh
        echo "$*" >> ARGV
        echo "META_PASSWORD=$META_PASSWORD" >> ARGV
        BODY
        """
            .replace("ARGV", argvLog.toString())
            .replace("BODY", body));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return new LocalProcessRuntime(
        LocalRuntimeConfig.under(base)
            .withJuicefsBinary(script)
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10)),
        new LinuxMounter());
  }

  @Test
  void quota_set_runs_the_exact_invocation_with_the_password_in_the_environment() throws Exception {
    LocalProcessRuntime rt = runtime("echo 'quota set'; exit 0");
    VolumeSettings v = volume("pvc-q1");
    assertThat(rt.setQuota(v, DirectoryQuota.of(v, 3L << 29))).isEqualTo(QuotaOutcome.SET);
    assertThat(Files.readAllLines(argvLog))
        .containsExactly(
            "quota set redis://@127.0.0.1:6379/3 --path /tenants/pvc-q1 --capacity 2 --create",
            "META_PASSWORD=" + PASSWORD);
    String quotaLog = Files.readString(base.resolve("state/logs/quota-pvc-q1.log"));
    assertThat(quotaLog)
        .contains("running ", " quota set ", "--capacity 2")
        .doesNotContain(PASSWORD);
  }

  @Test
  void a_failing_quota_set_says_why_without_a_secret() throws Exception {
    LocalProcessRuntime rt =
        runtime("echo \"cannot reach redis://:" + PASSWORD + "@127.0.0.1\" >&2; exit 1");
    VolumeSettings v = volume("pvc-q2");
    assertThatThrownBy(() -> rt.setQuota(v, DirectoryQuota.of(v, 1L << 30)))
        .isInstanceOfSatisfying(
            Failure.class,
            f -> {
              assertThat(f.code()).isEqualTo(Failure.Code.UNAVAILABLE);
              assertThat(f.getMessage())
                  .contains(
                      "juicefs quota set of volume pvc-q2 failed with status 1", "cannot reach")
                  .doesNotContain(PASSWORD);
            });
  }

  @Test
  void the_embedded_default_reports_only_and_says_so_once() throws Exception {
    LocalProcessRuntime rt = runtime("exit 0");
    VolumeSettings a = TestVolumes.local("pvc-local-a", base.resolve("a"));
    VolumeSettings b = TestVolumes.local("pvc-local-b", base.resolve("b"));
    assertThat(rt.setQuota(a, new DirectoryQuota("/", 1))).isEqualTo(QuotaOutcome.NOT_ENFORCED);
    assertThat(rt.setQuota(b, new DirectoryQuota("/", 1))).isEqualTo(QuotaOutcome.NOT_ENFORCED);
    assertThat(argvLog).as("no juicefs for a local directory").doesNotExist();
    assertThat(Logs.snapshot(logs))
        .extracting(ILoggingEvent::getFormattedMessage)
        .filteredOn(m -> m.contains("cannot enforce a quota"))
        .hasSize(1);
  }
}

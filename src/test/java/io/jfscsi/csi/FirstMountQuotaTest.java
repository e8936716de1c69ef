package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.runtime.local.LocalProcessRuntime;
import io.jfscsi.runtime.local.LocalRuntimeConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The node's quota at a volume's first mount, run by the real local runtime against a fake {@code
 * juicefs} that records each {@code quota set}: only when the controller did not set it, once per
 * volume and size, with the PV's size after an expansion, retried when it fails.
 */
class FirstMountQuotaTest {
  @TempDir Path base;
  Path argvLog;
  Path quotaExit;
  final AtomicReference<QuotaSwitches> switches = new AtomicReference<>(QuotaSwitches.DEFAULTS);
  final Map<String, Long> pvCapacity = new HashMap<>();
  FirstMountQuota quota;

  @BeforeEach
  void setUp() throws Exception {
    argvLog = base.resolve("argv.log");
    quotaExit = base.resolve("exit");
    Files.writeString(quotaExit, "0");
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/sh
        echo "$*" >> ARGV
        exit $(cat EXIT)
        """
            .replace("ARGV", argvLog.toString())
            .replace("EXIT", quotaExit.toString()));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    LocalProcessRuntime runtime =
        new LocalProcessRuntime(
            LocalRuntimeConfig.under(base).withJuicefsBinary(script), new LinuxMounter());
    quota =
        new FirstMountQuota(
            runtime,
            switches::get,
            id -> Optional.ofNullable(pvCapacity.get(id)),
            Duration.ofMillis(50));
  }

  @AfterEach
  void tearDown() {
    quota.close();
  }

  static VolumeSettings volume(String id, Map<String, String> extra) {
    Map<String, String> context = new HashMap<>(Map.of("subPath", id));
    context.putAll(extra);
    return SettingsParser.parse(
        new VolumeSource(
            id,
            Map.of("name", "jfsvol", "metaurl", "redis://127.0.0.1:6379/3"),
            context,
            List.of()));
  }

  List<String> calls() throws Exception {
    return Files.exists(argvLog) ? Files.readAllLines(argvLog) : List.of();
  }

  @Test
  void a_volume_the_controller_left_gets_its_quota_once() throws Exception {
    switches.set(new QuotaSwitches(true, false));
    VolumeSettings v = volume("pvc-n1", Map.of("capacity", Long.toString(2L << 30)));
    quota.published(v);
    await().atMost(Duration.ofSeconds(10)).until(() -> !calls().isEmpty());
    quota.published(v);
    Thread.sleep(300);
    assertThat(calls())
        .containsExactly("quota set redis://127.0.0.1:6379/3 --path /pvc-n1 --capacity 2 --create");
  }

  @Test
  void nothing_for_a_static_volume_a_quota_set_by_the_controller_or_quotas_off() throws Exception {
    quota.published(volume("pvc-static", Map.of()));
    quota.published(
        volume(
            "pvc-n2", Map.of("capacity", "1073741824", DirectoryQuota.SET_BY_CONTROLLER, "true")));
    switches.set(new QuotaSwitches(false, false));
    quota.published(volume("pvc-n3", Map.of("capacity", "1073741824")));
    Thread.sleep(500);
    assertThat(calls()).isEmpty();
  }

  @Test
  void the_pvs_size_after_an_expansion_wins_and_a_failure_is_retried() throws Exception {
    Files.writeString(quotaExit, "1");
    pvCapacity.put("pvc-n4", 8L << 30);
    VolumeSettings v = volume("pvc-n4", Map.of("capacity", Long.toString(1L << 30)));
    quota.published(v);
    await().atMost(Duration.ofSeconds(10)).until(() -> calls().size() == FirstMountQuota.ATTEMPTS);
    Thread.sleep(300);
    assertThat(calls()).as("it gives up after its attempts").hasSize(FirstMountQuota.ATTEMPTS);
    Files.writeString(quotaExit, "0");
    quota.published(v);
    await()
        .atMost(Duration.ofSeconds(10))
        .until(() -> calls().size() == FirstMountQuota.ATTEMPTS + 1);
    assertThat(calls())
        .containsOnly("quota set redis://127.0.0.1:6379/3 --path /pvc-n4 --capacity 8 --create");
  }
}

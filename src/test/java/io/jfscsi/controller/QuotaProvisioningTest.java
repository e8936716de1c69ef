package io.jfscsi.controller;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import io.jfscsi.Asks;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.runtime.local.LocalProcessRuntime;
import io.jfscsi.runtime.local.LocalRuntimeConfig;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The controller's quota steps with the real local runtime and a fake {@code juicefs} (format,
 * mount through bindfs, and quota recorded): CreateVolume sets the quota when the switches say so
 * and marks the context for the node; a failing quota leaves the volume made; expansion raises it.
 */
class QuotaProvisioningTest {
  static final String PASSWORD = "prov-meta-pw-3";

  @TempDir Path base;
  Path data;
  Path argvLog;
  Path quotaExit;
  ActorTestKit kit;
  final AtomicReference<QuotaSwitches> switches = new AtomicReference<>(QuotaSwitches.DEFAULTS);
  ActorRef<VolumeProvisioner.Command> provisioner;

  final Map<String, String> secrets =
      Map.of("name", "jfsvol", "metaurl", "redis://:" + PASSWORD + "@127.0.0.1:6379/3");

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    data = Files.createDirectory(base.resolve("data"));
    argvLog = base.resolve("argv.log");
    quotaExit = base.resolve("quota-exit");
    Files.writeString(quotaExit, "0");
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/sh
        case "$1" in
          format) exit 0 ;;
          mount)
            for arg in "$@"; do last="$arg"; done
            exec /usr/bin/bindfs -f -o allow_other DATA "$last"
            ;;
          status)
            echo '{"Setting": {"Name": "jfsvol", "UUID": "u-1", "Storage": "file"}, "Sessions": []}'
            ;;
          quota)
            echo "$* META_PASSWORD=$META_PASSWORD" >> ARGV
            exit $(cat EXIT)
            ;;
        esac
        """
            .replace("ARGV", argvLog.toString())
            .replace("DATA", data.toString())
            .replace("EXIT", quotaExit.toString()));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    LocalProcessRuntime runtime =
        new LocalProcessRuntime(
            LocalRuntimeConfig.under(base)
                .withJuicefsBinary(script)
                .withTimeouts(
                    Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10)),
            new LinuxMounter());
    kit = ActorTestKit.create();
    provisioner =
        kit.spawn(
            VolumeProvisioner.create(
                new MountedDirectories(runtime, Duration.ofSeconds(20)),
                VolumeProvisioner.catalog(base.resolve("state")),
                runtime,
                switches::get));
  }

  @AfterEach
  void tearDown() {
    if (kit != null) {
      kit.shutdownTestKit();
    }
  }

  VolumeProvisioner.Created create(String name, long bytes) {
    return this.<VolumeProvisioner.Created>ask(
        reply ->
            new VolumeProvisioner.Create(
                name, Map.of(), secrets, bytes, List.of("subdir=/tenants"), reply));
  }

  VolumeProvisioner.Expanded expand(String name, long bytes) {
    return this.<VolumeProvisioner.Expanded>ask(
        reply ->
            new VolumeProvisioner.Expand(
                name, null, secrets, bytes, List.of("subdir=/tenants"), reply));
  }

  <T> T ask(java.util.function.Function<ActorRef<StatusReply<T>>, VolumeProvisioner.Command> m) {
    return Asks.<VolumeProvisioner.Command, T>askWithStatus(
            provisioner, m::apply, Duration.ofSeconds(60), kit.scheduler())
        .toCompletableFuture()
        .join();
  }

  List<String> quotaCalls() throws Exception {
    return Files.exists(argvLog) ? Files.readAllLines(argvLog) : List.of();
  }

  @Test
  void create_volume_sets_the_quota_rounded_up_and_marks_it_for_the_node() throws Exception {
    VolumeProvisioner.Created created = create("pvc-q-a", 1_500_000_000L);
    assertThat(quotaCalls())
        .containsExactly(
            "quota set redis://@127.0.0.1:6379/3 --path /tenants/pvc-q-a --capacity 2 --create"
                + " META_PASSWORD="
                + PASSWORD);
    assertThat(created.context())
        .containsEntry(DirectoryQuota.SET_BY_CONTROLLER, "true")
        .containsEntry("capacity", "1500000000");
    assertThat(created.quotaProblem()).isEmpty();
    assertThat(data.resolve("pvc-q-a")).isDirectory();

    // A repeat answers the same and does not set the quota again.
    assertThat(create("pvc-q-a", 1_500_000_000L)).isEqualTo(created);
    assertThat(quotaCalls()).hasSize(1);
  }

  @Test
  void with_the_controller_switch_off_the_node_is_left_to_set_it() throws Exception {
    switches.set(new QuotaSwitches(true, false));
    VolumeProvisioner.Created created = create("pvc-q-b", 1L << 30);
    assertThat(quotaCalls()).isEmpty();
    assertThat(created.context()).doesNotContainKey(DirectoryQuota.SET_BY_CONTROLLER);

    switches.set(new QuotaSwitches(false, true));
    assertThat(create("pvc-q-c", 1L << 30).context())
        .doesNotContainKey(DirectoryQuota.SET_BY_CONTROLLER);
    assertThat(quotaCalls()).isEmpty();
  }

  @Test
  void a_failing_quota_leaves_the_volume_made_and_says_why() throws Exception {
    Files.writeString(quotaExit, "3");
    VolumeProvisioner.Created created = create("pvc-q-d", 5L << 30);
    assertThat(data.resolve("pvc-q-d")).isDirectory();
    assertThat(created.context()).doesNotContainKey(DirectoryQuota.SET_BY_CONTROLLER);
    assertThat(created.quotaProblem())
        .hasValueSatisfying(
            why -> assertThat(why).contains("quota set", "status 3").doesNotContain(PASSWORD));
  }

  @Test
  void expansion_raises_the_quota_and_a_failure_is_an_error_that_keeps_the_old_size()
      throws Exception {
    create("pvc-q-e", 1L << 30);
    assertThat(expand("pvc-q-e", 10L << 30).capacityBytes()).isEqualTo(10L << 30);
    assertThat(quotaCalls())
        .last()
        .asString()
        .startsWith(
            "quota set redis://@127.0.0.1:6379/3 --path /tenants/pvc-q-e --capacity 10 --create");

    Files.writeString(quotaExit, "1");
    assertThat(catchThrowable(() -> expand("pvc-q-e", 20L << 30)))
        .isInstanceOf(CompletionException.class)
        .cause()
        .hasMessageContaining("status 1");
    Files.writeString(quotaExit, "0");
    int calls = quotaCalls().size();
    assertThat(expand("pvc-q-e", 10L << 30).capacityBytes())
        .as("the failed expansion did not count")
        .isEqualTo(10L << 30);
    assertThat(quotaCalls()).hasSize(calls);
  }
}

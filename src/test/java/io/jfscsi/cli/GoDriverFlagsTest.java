package io.jfscsi.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.typesafe.config.Config;
import csi.v1.NodeGetInfoRequest;
import io.jfscsi.csi.CsiClient;
import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/**
 * The Go driver's flags, as its Helm chart writes them, on {@code jfs-csi serve}: mapped where they
 * mean something, named in one warning where they do not, and the driver starts either way.
 */
class GoDriverFlagsTest {

  /** The node DaemonSet's and the controller StatefulSet's args of the Go driver's Helm chart. */
  static final List<String> HELM_ARGS =
      List.of(
          "--logtostderr",
          "--nodeid=node-7",
          "--v=5",
          "--enable-manager=true",
          "--leader-election",
          "--leader-election-namespace=kube-system",
          "--leader-election-lease-duration=1m30s",
          "--provisioner=true",
          "--validating-webhook=true",
          "--cache-client-conf",
          "--format-in-pod=true",
          "--reconciler-interval=10");

  private static ServeCommand parse(List<String> args) {
    ServeCommand serve = new ServeCommand();
    new CommandLine(serve).parseArgs(args.toArray(String[]::new));
    return serve;
  }

  @Test
  void the_flags_that_mean_something_here_set_the_same_settings() {
    Config c = parse(HELM_ARGS).config();
    assertThat(c.getString("jfs-csi.node-id")).isEqualTo("node-7");
    assertThat(c.getString("jfs-csi.controller.provisioner")).isEqualTo("builtin");
    assertThat(c.getDuration("jfs-csi.controller.leader-election.lease-duration"))
        .isEqualTo(Duration.ofSeconds(90));
    assertThat(parse(List.of("--by-process=true")).config().getString("jfs-csi.runtime"))
        .isEqualTo("local");
    assertThat(parse(List.of("--by-process")).config().getString("jfs-csi.runtime"))
        .isEqualTo("local");
    assertThat(
            parse(List.of("--provisioner=false"))
                .config()
                .getString("jfs-csi.controller.provisioner"))
        .isEqualTo("sidecar");
  }

  @Test
  void the_go_daemonsets_config_yaml_is_not_read_as_hocon_but_a_hocon_file_is(@TempDir Path tmp)
      throws Exception {
    // What the Go driver's DaemonSet mounts at /etc/config/config.yaml (its ConfigMap).
    Path yaml = tmp.resolve("config.yaml");
    Files.writeString(
        yaml,
        """
        enableNodeSelector: true
        mountPodPatch:
          - ceMountImage: "juicedata/mount:ce-v1.2.3"
            resources:
              requests:
                cpu: 100m
        """);
    Config c = parse(List.of("--nodeid=node-7", "--config=" + yaml)).config();
    assertThat(c.getString("jfs-csi.node-id")).isEqualTo("node-7");
    assertThat(c.getString("jfs-csi.kubernetes.config-map")).isEqualTo("juicefs-csi-driver-config");
    assertThat(c.hasPath("mountPodPatch")).isFalse();
    Path hocon = tmp.resolve("jfs-csi.conf");
    Files.writeString(hocon, "jfs-csi.kubernetes.config-map = other-config\n");
    assertThat(
            parse(List.of("--config=" + hocon)).config().getString("jfs-csi.kubernetes.config-map"))
        .isEqualTo("other-config");
  }

  @Test
  void the_sidecar_webhook_flags_set_the_webhook_settings() {
    Config c =
        parse(List.of("--webhook", "--webhook-port=9555", "--webhook-cert-dir=/etc/webhook/certs"))
            .config();
    assertThat(c.getBoolean("jfs-csi.webhook.enabled")).isTrue();
    assertThat(c.getInt("jfs-csi.webhook.port")).isEqualTo(9555);
    assertThat(c.getString("jfs-csi.webhook.cert-dir")).isEqualTo("/etc/webhook/certs");
    assertThat(parse(List.of("--webhook=false")).config().getBoolean("jfs-csi.webhook.enabled"))
        .isFalse();
    Config defaults = parse(List.of()).config();
    assertThat(defaults.getBoolean("jfs-csi.webhook.enabled")).isFalse();
    assertThat(defaults.getInt("jfs-csi.webhook.port")).isEqualTo(9444);
    assertThat(
            parse(List.of("--webhook", "--webhook-cert-dir=/c")).goFlags.ignored(Optional.empty()))
        .isEmpty();
    org.assertj.core.api.Assertions.assertThatThrownBy(
            () -> parse(List.of("--webhook-port=high")).config())
        .hasMessageContaining("--webhook-port=high is not a port number");
  }

  @Test
  void the_others_are_named_in_one_list_with_what_to_use_instead() {
    assertThat(parse(HELM_ARGS).goFlags.ignored(Optional.empty()))
        .containsExactly(
            "--leader-election-namespace=kube-system (the Lease is in"
                + " jfs-csi.kubernetes.namespace)",
            "--validating-webhook=true (no validating webhook)",
            "--cache-client-conf=true (Enterprise Edition)",
            "--format-in-pod=true (juicefs format always runs in the Mount Pod)",
            "--reconciler-interval=10 (the Mount Pods are watched, not polled)");
    assertThat(parse(List.of("--nodeid=n", "--logtostderr")).goFlags.ignored()).isEmpty();
  }

  @Test
  void klog_verbosity_5_and_above_is_debug_and_below_info_unless_the_log_level_is_set() {
    assertThat(parse(List.of("--v=5")).goFlags.logLevel(Optional.empty())).contains("DEBUG");
    assertThat(parse(List.of("--v=9")).goFlags.logLevel(Optional.empty())).contains("DEBUG");
    assertThat(parse(List.of("--v=4")).goFlags.logLevel(Optional.empty())).contains("INFO");
    assertThat(parse(List.of("--v=0")).goFlags.ignored(Optional.empty())).isEmpty();
    assertThat(parse(List.of()).goFlags.logLevel(Optional.empty())).isEmpty();

    GoDriverFlags warn = parse(List.of("--v=5")).goFlags;
    assertThat(warn.logLevel(Optional.of("WARN"))).isEmpty();
    assertThat(warn.ignored(Optional.of("WARN")))
        .containsExactly("--v=5 (JFS_CSI_LOG_LEVEL=WARN wins)");
    GoDriverFlags word = parse(List.of("--v=loud")).goFlags;
    assertThat(word.logLevel(Optional.empty())).isEmpty();
    assertThat(word.ignored(Optional.empty()))
        .containsExactly("--v=loud (not a number; log level: JFS_CSI_LOG_LEVEL)");
  }

  @Test
  void a_bad_lease_duration_and_an_unknown_flag_still_fail() {
    assertThatThrownBy(() -> parse(List.of("--leader-election-lease-duration=soon")).config())
        .hasMessageContaining("--leader-election-lease-duration = 'soon' is not a Go duration");
    assertThatThrownBy(() -> parse(List.of("--no-such-flag")))
        .isInstanceOf(CommandLine.UnmatchedArgumentException.class);
  }

  @Test
  void serve_starts_with_the_helm_args_and_warns_once(@TempDir Path dir) throws Exception {
    HostRequirements.requireRoot();
    Path socket = dir.resolve("csi.sock");
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp",
                System.getProperty("java.class.path"),
                "io.jfscsi.cli.Main",
                "serve",
                "--endpoint=unix://" + socket,
                "--roles=node",
                "--kubelet-root=" + Files.createDirectories(dir.resolve("kubelet")),
                "--mount-root=" + dir.resolve("mnt"),
                "--state-dir=" + dir.resolve("state"),
                "--by-process=true"));
    command.addAll(HELM_ARGS);
    Path out = dir.resolve("driver.log");
    Process process =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    try (CsiClient csi = CsiClient.connect("unix://" + socket)) {
      Awaitility.await()
          .atMost(Duration.ofSeconds(60))
          .ignoreExceptions()
          .until(
              () ->
                  csi.node()
                      .nodeGetInfo(NodeGetInfoRequest.getDefaultInstance())
                      .getNodeId()
                      .equals("node-7"));
    } finally {
      process.destroy();
      process.waitFor(30, TimeUnit.SECONDS);
    }
    List<String> warnings =
        Files.readAllLines(out).stream()
            .filter(l -> l.contains("flags of the JuiceFS CSI Driver (Go)"))
            .toList();
    assertThat(warnings).hasSize(1);
    assertThat(warnings.getFirst())
        .contains("--validating-webhook=true", "--reconciler-interval=10")
        .doesNotContain("--v=", "--nodeid", "--provisioner", "--logtostderr", "--enable-manager");
    // --v=5: the driver's own loggers say what they say at DEBUG.
    assertThat(Files.readAllLines(out)).anyMatch(l -> l.contains("--v=5: io.jfscsi logs at DEBUG"));
    assertThat(Files.readAllLines(out)).anyMatch(l -> l.matches(".*\\bDEBUG\\b.*\\bi\\.j\\..*"));
  }
}

package io.jfscsi.cli;

import io.jfscsi.juicefs.GoDuration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Option;

/**
 * The command-line flags the JuiceFS CSI Driver (Go) takes and its Helm chart passes, so that its
 * DaemonSet and StatefulSet args start this driver unchanged: those that mean something here set
 * the same setting; the others are named in one warning at start instead of failing it. Hidden from
 * {@code --help}: they are for manifests written for the Go driver.
 */
final class GoDriverFlags {
  private static final Logger log = LoggerFactory.getLogger(GoDriverFlags.class);

  @Option(names = "--by-process", arity = "0..1", hidden = true, fallbackValue = "true")
  Boolean byProcess;

  @Option(names = "--provisioner", arity = "0..1", hidden = true, fallbackValue = "true")
  Boolean provisioner;

  @Option(names = "--leader-election-lease-duration", hidden = true, description = "a Go duration")
  String leaseDuration;

  // Accepted: what they ask for is what this driver always does.
  @Option(names = "--logtostderr", arity = "0..1", hidden = true, fallbackValue = "true")
  Boolean logToStderr;

  @Option(names = "--enable-manager", arity = "0..1", hidden = true, fallbackValue = "true")
  Boolean enableManager;

  @Option(names = "--leader-election", arity = "0..1", hidden = true, fallbackValue = "true")
  Boolean leaderElection;

  // klog's verbosity: mapped to the log level of io.jfscsi ({@link #logLevel}).
  @Option(names = "--v", hidden = true)
  String verbosity;

  // Named in the warning: nothing here to set with them.

  @Option(names = "--leader-election-namespace", hidden = true)
  String leaderElectionNamespace;

  @Option(names = "--webhook", arity = "0..1", hidden = true, fallbackValue = "true")
  String webhook;

  @Option(names = "--webhook-cert-dir", hidden = true)
  String webhookCertDir;

  @Option(names = "--webhook-port", hidden = true)
  String webhookPort;

  @Option(names = "--validating-webhook", arity = "0..1", hidden = true, fallbackValue = "true")
  String validatingWebhook;

  @Option(names = "--cache-client-conf", arity = "0..1", hidden = true, fallbackValue = "true")
  String cacheClientConf;

  @Option(names = "--format-in-pod", arity = "0..1", hidden = true, fallbackValue = "true")
  String formatInPod;

  @Option(names = "--reconciler-interval", hidden = true)
  String reconcilerInterval;

  /** The settings the mapped flags set. */
  void addTo(Map<String, Object> overrides) {
    if (Boolean.TRUE.equals(byProcess)) {
      overrides.put("jfs-csi.runtime", "local");
    }
    if (provisioner != null) {
      overrides.put("jfs-csi.controller.provisioner", provisioner ? "builtin" : "sidecar");
    }
    if (webhook != null) {
      overrides.put("jfs-csi.webhook.enabled", Boolean.parseBoolean(webhook.strip()));
    }
    if (webhookCertDir != null) {
      overrides.put("jfs-csi.webhook.cert-dir", webhookCertDir);
    }
    if (webhookPort != null) {
      try {
        overrides.put("jfs-csi.webhook.port", Integer.parseInt(webhookPort.strip()));
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(
            "--webhook-port="
                + webhookPort
                + " is not a port number (the Go driver's default: 9444)");
      }
    }
    if (leaseDuration != null) {
      overrides.put(
          "jfs-csi.controller.leader-election.lease-duration",
          GoDuration.parseOrThrow(leaseDuration, "--leader-election-lease-duration").toMillis()
              + "ms");
    }
  }

  /** From this klog verbosity on, the Go driver logs its detail: here, DEBUG. */
  static final int DEBUG_VERBOSITY = 5;

  static final String LOG_LEVEL = "JFS_CSI_LOG_LEVEL";

  /**
   * The level {@code --v} asks of the loggers of io.jfscsi: DEBUG from {@value #DEBUG_VERBOSITY}
   * on, else INFO; nothing when it is absent or not a number, or when {@code logLevelSetting}
   * (JFS_CSI_LOG_LEVEL) is set, which wins.
   */
  Optional<String> logLevel(Optional<String> logLevelSetting) {
    if (verbosity == null || logLevelSetting.isPresent()) {
      return Optional.empty();
    }
    try {
      return Optional.of(Integer.parseInt(verbosity.strip()) >= DEBUG_VERBOSITY ? "DEBUG" : "INFO");
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** Sets the level of io.jfscsi's loggers from {@code --v}, if it asks for one. */
  void applyLogLevel() {
    logLevel(logLevelSetting())
        .ifPresent(
            level -> {
              if (LoggerFactory.getLogger("io.jfscsi")
                  instanceof ch.qos.logback.classic.Logger logger) {
                logger.setLevel(ch.qos.logback.classic.Level.toLevel(level));
                log.info(
                    "--v={}: io.jfscsi logs at {} ({} is not set)", verbosity, level, LOG_LEVEL);
              }
            });
  }

  private static Optional<String> logLevelSetting() {
    return Optional.ofNullable(System.getenv(LOG_LEVEL))
        .or(() -> Optional.ofNullable(System.getProperty(LOG_LEVEL)))
        .filter(v -> !v.isBlank());
  }

  /** The flags given that mean nothing here, as they were written, with what to use instead. */
  List<String> ignored() {
    return ignored(logLevelSetting());
  }

  List<String> ignored(Optional<String> logLevelSetting) {
    List<String> out = new ArrayList<>();
    if (verbosity != null && logLevel(logLevelSetting).isEmpty()) {
      add(
          out,
          "--v",
          verbosity,
          logLevelSetting.isPresent()
              ? LOG_LEVEL + "=" + logLevelSetting.get() + " wins"
              : "not a number; log level: " + LOG_LEVEL);
    }
    add(
        out,
        "--leader-election-namespace",
        leaderElectionNamespace,
        "the Lease is in jfs-csi.kubernetes.namespace");
    if (Boolean.FALSE.equals(leaderElection)) {
      out.add("--leader-election=false (the built-in provisioner always elects a leader)");
    }
    add(out, "--validating-webhook", validatingWebhook, "no validating webhook");
    add(out, "--cache-client-conf", cacheClientConf, "Enterprise Edition");
    add(out, "--format-in-pod", formatInPod, "juicefs format always runs in the Mount Pod");
    add(out, "--reconciler-interval", reconcilerInterval, "the Mount Pods are watched, not polled");
    return out;
  }

  private static void add(List<String> out, String flag, String value, String instead) {
    if (value != null) {
      out.add(flag + "=" + value + " (" + instead + ")");
    }
  }

  /** One warning line at start naming every ignored flag, or nothing. */
  void warn() {
    List<String> ignored = ignored();
    if (!ignored.isEmpty()) {
      log.warn(
          "ignoring flags of the JuiceFS CSI Driver (Go) that mean nothing to jfs-csi: {}",
          String.join(", ", ignored));
    }
  }
}

package io.jfscsi.cli;

import io.jfscsi.juicefs.GoDuration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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

  // Named in the warning: nothing here to set with them.
  @Option(names = "--v", hidden = true)
  String verbosity;

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
    if (leaseDuration != null) {
      overrides.put(
          "jfs-csi.controller.leader-election.lease-duration",
          GoDuration.parseOrThrow(leaseDuration, "--leader-election-lease-duration").toMillis()
              + "ms");
    }
  }

  /** The flags given that mean nothing here, as they were written, with what to use instead. */
  List<String> ignored() {
    List<String> out = new ArrayList<>();
    add(out, "--v", verbosity, "log level: JFS_CSI_LOG_LEVEL");
    add(
        out,
        "--leader-election-namespace",
        leaderElectionNamespace,
        "the Lease is in jfs-csi.kubernetes.namespace");
    if (Boolean.FALSE.equals(leaderElection)) {
      out.add("--leader-election=false (the built-in provisioner always elects a leader)");
    }
    add(out, "--webhook", webhook, "no sidecar mode");
    add(out, "--webhook-cert-dir", webhookCertDir, "no webhook");
    add(out, "--webhook-port", webhookPort, "no webhook");
    add(out, "--validating-webhook", validatingWebhook, "no webhook");
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

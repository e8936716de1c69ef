package io.jfscsi.controller.kube;

import com.typesafe.config.Config;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Map;

/**
 * {@code jfs-csi.controller.*}: whether the controller provisions claims itself (builtin) or leaves
 * that to the external csi-provisioner (sidecar), and how it elects its leader.
 *
 * @param builtin run the built-in provisioner
 * @param leaseName the Lease the replicas compete for, in the driver namespace
 * @param resync how often every claim and volume is looked at again
 */
public record ProvisionerSettings(
    boolean builtin,
    String driverName,
    String leaseName,
    Duration leaseDuration,
    Duration renewDeadline,
    Duration retryPeriod,
    Duration backoffMin,
    Duration backoffMax,
    Duration resync,
    Duration callTimeout) {

  /** In a pod: what fabric8's in-cluster configuration reads. */
  static final Path SERVICE_ACCOUNT_TOKEN =
      Path.of("/var/run/secrets/kubernetes.io/serviceaccount/token");

  /** Reads {@code c} (the {@code jfs-csi} block); {@code env} decides "auto". */
  public static ProvisionerSettings from(Config c, Map<String, String> env) {
    Config p = c.getConfig("controller");
    String mode = p.getString("provisioner").toLowerCase(Locale.ROOT);
    boolean builtin =
        switch (mode) {
          case "builtin" -> true;
          case "sidecar" -> false;
          case "auto" -> kubernetesConfigured(c, env);
          default ->
              throw new IllegalArgumentException(
                  "jfs-csi.controller.provisioner must be "
                      + "auto, builtin or sidecar, not '"
                      + mode
                      + "'");
        };
    String driverName = c.getString("driver-name");
    Config le = p.getConfig("leader-election");
    String lease =
        le.getString("lease-name").isEmpty() ? leaseName(driverName) : le.getString("lease-name");
    ProvisionerSettings s =
        new ProvisionerSettings(
            builtin,
            driverName,
            lease,
            le.getDuration("lease-duration"),
            le.getDuration("renew-deadline"),
            le.getDuration("retry-period"),
            p.getDuration("retry-backoff.min"),
            p.getDuration("retry-backoff.max"),
            p.getDuration("resync-period"),
            c.getDuration("call-timeout"));
    if (s.renewDeadline.compareTo(s.leaseDuration) >= 0
        || s.retryPeriod.compareTo(s.renewDeadline) >= 0) {
      throw new IllegalArgumentException(
          "jfs-csi.controller.leader-election needs retry-period "
              + "< renew-deadline < lease-duration");
    }
    return s;
  }

  /**
   * The Lease name external-provisioner uses for the same driver (dots become dashes), so that a
   * csi-provisioner sidecar and the built-in provisioner in one namespace exclude each other during
   * a switch from one to the other.
   */
  static String leaseName(String driverName) {
    return driverName.replaceAll("[^a-zA-Z0-9-]", "-").toLowerCase(Locale.ROOT);
  }

  /**
   * This process runs in a pod with a service account token. A kubeconfig alone does not count: a
   * driver started by hand or by a test with one (for the kubernetes runtime) provisions only when
   * asked to with {@code builtin}.
   */
  static boolean kubernetesConfigured(Config c, Map<String, String> env) {
    return env.containsKey("KUBERNETES_SERVICE_HOST") && Files.isReadable(SERVICE_ACCOUNT_TOKEN);
  }
}

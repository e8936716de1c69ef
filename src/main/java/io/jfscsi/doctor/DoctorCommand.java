package io.jfscsi.doctor;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.runtime.kube.KubeClients;
import java.io.PrintWriter;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code jfs-csi doctor pod NS/NAME} or {@code jfs-csi doctor pvc NS/NAME}: says which side failed
 * ("PV not created" or "pod not starting", node plugin or Mount Pod) and why. Exit code 0 when
 * nothing is wrong, 3 when a failure was found, 1 when the doctor itself could not run.
 */
@Command(
    name = "doctor",
    mixinStandardHelpOptions = true,
    description =
        "Follow pod -> PVC -> PV -> StorageClass -> Mount Pod -> events and say "
            + "which side failed and why.")
public final class DoctorCommand implements Callable<Integer> {

  @Parameters(index = "0", description = "pod or pvc")
  Kind kind;

  @Parameters(
      index = "1",
      paramLabel = "NAMESPACE/NAME",
      description = "the app pod or the PVC (namespace 'default' if omitted)")
  String target;

  @Option(names = "--claim", description = "for a pod with several PVCs: the one to follow")
  String claim;

  @Mixin KubeClients.Options api;

  @Option(
      names = "--driver-name",
      defaultValue = "csi.juicefs.com",
      description = "the CSI driver name (default: ${DEFAULT-VALUE})")
  String driverName;

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  enum Kind {
    pod,
    pvc
  }

  @Override
  public Integer call() throws Exception {
    String namespace = target.contains("/") ? target.substring(0, target.indexOf('/')) : "default";
    String name = target.substring(target.indexOf('/') + 1);
    try (KubernetesClient client = api.connect()) {
      FactsCollector collector = new FactsCollector(client);
      Facts facts =
          kind == Kind.pod
              ? collector.forPod(namespace, name, Optional.ofNullable(claim))
              : collector.forClaim(namespace, name);
      Verdict verdict = new Doctor(driverName).diagnose(facts);
      print(facts, verdict, spec.commandLine().getOut());
      return verdict.healthy() ? 0 : 3;
    }
  }

  static void print(Facts facts, Verdict verdict, PrintWriter out) {
    out.println("doctor: " + facts.subject());
    verdict.evidence().forEach(e -> out.println("  " + e));
    out.println("verdict: " + verdict.side().words() + ": " + verdict.cause());
    verdict.hints().forEach(h -> out.println("hint: " + h));
    out.flush();
  }
}

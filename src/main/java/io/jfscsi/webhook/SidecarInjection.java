package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import io.jfscsi.Failure;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.MountPodBuilder;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * What the sidecar webhook does to one app pod, as a pure function of the pod and its JuiceFS
 * claims (no API calls): each claim gets a JuiceFS client container of the Mount Pod's shape
 * ({@link MountPodBuilder}: privileged, {@code format && exec mount}, the mount root on a hostPath
 * with Bidirectional propagation, no secret value in the spec), placed before the app's containers,
 * and the pod's volumes of that claim become the hostPath of its mount. The pod is labelled {@value
 * #DONE_LABEL}, as the Go driver labels it. A {@link Mode} chooses the serverless variants' shapes
 * ({@link ServerlessShape}) and native sidecars ({@link NativeSidecars}). {@link ClaimSidecars}
 * makes the clients claim by claim; this class places them in the pod.
 *
 * <p>Better than the Go driver in three ways: a postStart hook holds the app containers back until
 * the client's mount answers (kubelet starts containers in order and waits for each hook), so an
 * app never sees the empty directory under the mount; each pod's client mounts at a path of its own
 * (two pods of one volume on a node never stack their mounts on one path); and a claim whose
 * settings the driver refuses ({@code writeback}, a bad option or key) refuses the pod with the
 * same message a publish would give, instead of a client that fails in the pod.
 *
 * <p>Each client has a preStop hook ({@link SidecarScripts#stopScript}) that unmounts and removes
 * its mount point, and {@link SidecarExitWatcher} runs that hook when the app containers of a Job's
 * pod are done, so the pod completes.
 */
public final class SidecarInjection {
  private SidecarInjection() {}

  /** The namespace label that turns injection on (the webhook's namespaceSelector). */
  public static final String NAMESPACE_LABEL = "juicefs.com/enable-injection";

  /** The Go driver's namespace label for its serverless webhook. */
  public static final String SERVERLESS_NAMESPACE_LABEL = "juicefs.com/enable-serverless-injection";

  /** A pod already injected: left alone (a re-invocation, or a pod made from an injected one). */
  public static final String DONE_LABEL = "done.sidecar.juicefs.com/inject";

  /** A pod that asks for no sidecar. */
  public static final String DISABLE_LABEL = "disable.sidecar.juicefs.com/inject";

  /**
   * The first sidecar's container is the Mount Pod's ({@code jfs-mount}), the next add -1, -2...
   */
  public static final String CONTAINER = MountPodNames.CONTAINER;

  private static final KubernetesSerialization JSON = new KubernetesSerialization();

  /** What becomes of a pod. */
  public sealed interface Outcome {
    /** Admitted as it is, for {@code reason}. */
    record Unchanged(String reason) implements Outcome {}

    /** Admitted as {@code pod}, once {@code secrets} (one per claim) are written. */
    record Injected(Pod pod, List<Secret> secrets) implements Outcome {}

    /** Refused with {@code message}, which names the claim and never a secret value. */
    record Refused(String message) implements Outcome {}
  }

  /** Why a pod is left alone before its claims are read, or empty when they must be. */
  public static Optional<String> skipReason(Pod pod) {
    Map<String, String> labels =
        pod.getMetadata() == null || pod.getMetadata().getLabels() == null
            ? Map.of()
            : pod.getMetadata().getLabels();
    if ("true".equals(labels.get(DONE_LABEL))) {
      return Optional.of("the pod is injected already (" + DONE_LABEL + "=true)");
    }
    if ("true".equals(labels.get(DISABLE_LABEL))) {
      return Optional.of("the pod opts out (" + DISABLE_LABEL + "=true)");
    }
    return Optional.empty();
  }

  /**
   * How the clients are made: their {@link SidecarVariant}, and whether they are native sidecars
   * (init containers with {@code restartPolicy: Always}, {@link NativeSidecars}) or containers
   * placed before the app's.
   */
  public record Mode(SidecarVariant variant, boolean nativeSidecars) {
    public static final Mode PLAIN = new Mode(SidecarVariant.HOST, false);
  }

  /** As {@link #decide(Pod, List, KubeRuntimeConfig, Supplier, Mode)} in {@link Mode#PLAIN}. */
  public static Outcome decide(
      Pod pod, List<SidecarClaim> claims, KubeRuntimeConfig config, Supplier<String> suffixes) {
    return decide(pod, claims, config, suffixes, Mode.PLAIN);
  }

  /**
   * The pod with a client for each of {@code claims}, made as {@code mode} says; {@code suffixes}
   * names each client's mount point (random in the webhook, fixed in tests).
   */
  public static Outcome decide(
      Pod pod,
      List<SidecarClaim> claims,
      KubeRuntimeConfig config,
      Supplier<String> suffixes,
      Mode mode) {
    return decide(pod, claims, config, GlobalConfig.DEFAULTS, suffixes, mode);
  }

  /**
   * As {@link #decide(Pod, List, KubeRuntimeConfig, Supplier, Mode)}, with the global ConfigMap's
   * {@code mountPodPatch} entries that select each claim applied to its client container ({@link
   * SidecarPatch}).
   */
  public static Outcome decide(
      Pod pod,
      List<SidecarClaim> claims,
      KubeRuntimeConfig config,
      GlobalConfig global,
      Supplier<String> suffixes,
      Mode mode) {
    Optional<String> skip = skipReason(pod);
    if (skip.isPresent()) {
      return new Outcome.Unchanged(skip.get());
    }
    if (claims.isEmpty()) {
      return new Outcome.Unchanged("the pod uses no JuiceFS volume");
    }
    Pod out = JSON.clone(pod);
    ClaimSidecars clients = new ClaimSidecars(out, config, global, suffixes, mode.variant());
    for (SidecarClaim claim : claims) {
      Optional<String> refusal = clients.add(claim);
      if (refusal.isPresent()) {
        return new Outcome.Refused(refusal.get());
      }
    }
    if (!clients.vciMounts().isEmpty()) {
      try {
        out.getMetadata()
            .setAnnotations(
                ServerlessShape.vciAnnotations(
                    out.getMetadata().getAnnotations(), clients.vciMounts()));
      } catch (Failure e) {
        return new Outcome.Refused(e.getMessage());
      }
    }
    List<Volume> volumes = new ArrayList<>();
    for (Volume v : out.getSpec().getVolumes()) {
      volumes.add(clients.replaced().getOrDefault(v.getName(), v));
    }
    volumes.addAll(clients.added());
    out.getSpec().setVolumes(volumes);
    if (mode.nativeSidecars()) {
      List<Container> inits =
          out.getSpec().getInitContainers() == null ? List.of() : out.getSpec().getInitContainers();
      out.getSpec()
          .setInitContainers(NativeSidecars.place(inits, clients.sidecars(), clients.volumesOf()));
    } else {
      List<Container> containers = new ArrayList<>(clients.sidecars());
      containers.addAll(out.getSpec().getContainers());
      out.getSpec().setContainers(containers);
    }
    Map<String, String> labels =
        out.getMetadata().getLabels() == null
            ? new HashMap<>()
            : new HashMap<>(out.getMetadata().getLabels());
    labels.put(DONE_LABEL, "true");
    out.getMetadata().setLabels(labels);
    return new Outcome.Injected(out, List.copyOf(clients.secrets()));
  }
}

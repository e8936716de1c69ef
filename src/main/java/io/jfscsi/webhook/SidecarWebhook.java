package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.jfscsi.Failure;
import io.jfscsi.runtime.kube.KubeRuntimeConfig;
import io.jfscsi.runtime.kube.MountPodNames;
import io.jfscsi.runtime.kube.configmap.GlobalConfig;
import io.jfscsi.runtime.kube.configmap.GlobalConfigWatch;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The sidecar webhook ({@value #PATH}, or {@value #SERVERLESS_PATH} for the serverless variants):
 * one AdmissionReview in, its answer out. Reads the pod's claims ({@link SidecarClaims}), decides
 * ({@link SidecarInjection}, with the pod's {@link SidecarVariant} and whether {@link
 * NativeSidecars} are in use), writes each client's Secret in the pod's namespace (not on a dry
 * run), and answers with the patch. An API error is a refusal with code 500; the webhook's
 * failurePolicy then decides what the API server does.
 */
public final class SidecarWebhook {
  private static final Logger log = LoggerFactory.getLogger(SidecarWebhook.class);

  /** The Go driver's path of its sidecar webhook. */
  public static final String PATH = "/juicefs/inject-v1-pod";

  /** The Go driver's path of its serverless webhook. */
  public static final String SERVERLESS_PATH = "/juicefs/serverless/inject-v1-pod";

  private final KubernetesClient client;
  private final SidecarClaims claims;
  private final KubeRuntimeConfig config;
  private final boolean serverless;
  private final NativeSidecars nativeSidecars;
  private final Optional<GlobalConfigWatch> globalConfig;

  /** The plain webhook ({@value #PATH}) with plain sidecars. */
  public SidecarWebhook(KubernetesClient client, String driverName, KubeRuntimeConfig config) {
    this(client, driverName, config, false, NativeSidecars.OFF);
  }

  /** The plain webhook or ({@code serverless}) the serverless one. */
  public SidecarWebhook(
      KubernetesClient client,
      String driverName,
      KubeRuntimeConfig config,
      boolean serverless,
      NativeSidecars nativeSidecars) {
    this(client, driverName, config, serverless, nativeSidecars, Optional.empty());
  }

  /** As above, with the global ConfigMap as {@code globalConfig} reads it, at each admission. */
  public SidecarWebhook(
      KubernetesClient client,
      String driverName,
      KubeRuntimeConfig config,
      boolean serverless,
      NativeSidecars nativeSidecars,
      Optional<GlobalConfigWatch> globalConfig) {
    this.globalConfig = globalConfig;
    this.client = client;
    this.claims = new SidecarClaims(client, driverName);
    this.config = config;
    this.serverless = serverless;
    this.nativeSidecars = nativeSidecars;
  }

  /** The answer to {@code body}, as JSON. */
  public String handle(String body) {
    return AdmissionReviews.JSON.asJson(review(body));
  }

  AdmissionReview review(String body) {
    AdmissionReview in;
    try {
      in = AdmissionReviews.parse(body);
    } catch (IllegalArgumentException e) {
      return AdmissionReviews.error("", 400, e.getMessage());
    }
    AdmissionRequest request = in.getRequest();
    Pod pod;
    try {
      pod = AdmissionReviews.pod(request);
    } catch (RuntimeException e) {
      return AdmissionReviews.error(
          request.getUid(), 400, "the object is not a Pod: " + e.getMessage());
    }
    if (pod == null || pod.getSpec() == null || !"CREATE".equals(request.getOperation())) {
      return AdmissionReviews.respond(
          request, pod, new SidecarInjection.Outcome.Unchanged("not a pod being created"));
    }
    String name = podName(pod);
    if (SidecarInjection.skipReason(pod).isEmpty()
        && globalConfig.isPresent()
        && !globalConfig.get().synced()) {
      // Admitted now, the pod's clients would miss the patch that the ConfigMap gives them.
      log.warn("pod {}: refused for now, the global ConfigMap is not read yet", name);
      return AdmissionReviews.error(
          request.getUid(),
          503,
          "the JuiceFS webhook has not read its global ConfigMap yet; try again");
    }
    GlobalConfig global =
        globalConfig.map(GlobalConfigWatch::current).orElse(GlobalConfig.DEFAULTS);
    SidecarInjection.Outcome outcome;
    try {
      outcome =
          SidecarInjection.skipReason(pod)
              .<SidecarInjection.Outcome>map(SidecarInjection.Outcome.Unchanged::new)
              .orElseGet(
                  () ->
                      SidecarInjection.decide(
                          pod,
                          claims.of(pod),
                          config,
                          global,
                          MountPodNames::randomSuffix,
                          mode(pod)));
    } catch (Failure e) {
      outcome = new SidecarInjection.Outcome.Refused(e.getMessage());
    } catch (KubernetesClientException e) {
      log.warn("pod {}: cannot read its claims: {}", name, e.getMessage());
      return AdmissionReviews.error(
          request.getUid(), 500, "the API server did not answer the webhook: " + e.getMessage());
    }
    switch (outcome) {
      case SidecarInjection.Outcome.Unchanged u ->
          log.debug("pod {}: unchanged, {}", name, u.reason());
      case SidecarInjection.Outcome.Refused r -> log.warn("pod {} refused: {}", name, r.message());
      case SidecarInjection.Outcome.Injected i -> {
        if (!Boolean.TRUE.equals(request.getDryRun())) {
          try {
            write(i.secrets());
          } catch (KubernetesClientException e) {
            log.warn("pod {}: cannot write the clients' Secrets: {}", name, e.getMessage());
            return AdmissionReviews.error(
                request.getUid(),
                500,
                "cannot write the JuiceFS clients' Secrets: " + e.getMessage());
          }
        }
        log.info(
            "pod {}: injected {} JuiceFS client(s) for claims {}",
            name,
            i.secrets().size(),
            i.secrets().stream().map(s -> s.getMetadata().getName()).toList());
      }
    }
    return AdmissionReviews.respond(request, pod, outcome);
  }

  private SidecarInjection.Mode mode(Pod pod) {
    return new SidecarInjection.Mode(SidecarVariant.of(pod, serverless), nativeSidecars.inUse());
  }

  private void write(List<Secret> secrets) {
    for (Secret s : secrets) {
      client
          .secrets()
          .inNamespace(s.getMetadata().getNamespace())
          .resource(s)
          .fieldManager("jfs-csi-webhook")
          .forceConflicts()
          .serverSideApply();
    }
  }

  private static String podName(Pod pod) {
    String n = pod.getMetadata().getName();
    if (n == null || n.isEmpty()) {
      n = pod.getMetadata().getGenerateName() + "*";
    }
    return pod.getMetadata().getNamespace() + "/" + n;
  }
}

package io.jfscsi.testing;

import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfiguration;
import io.fabric8.kubernetes.api.model.admissionregistration.v1.MutatingWebhookConfigurationBuilder;
import io.jfscsi.webhook.SidecarInjection;
import io.jfscsi.webhook.SidecarWebhook;
import java.util.HashMap;
import java.util.Map;

/**
 * The MutatingWebhookConfiguration the tests register for a webhook served from the test itself
 * (deploy/overlays/webhook/webhook.yaml's rules): pod CREATE in namespaces labelled {@value
 * SidecarInjection#NAMESPACE_LABEL}=true, failing closed, its caBundle left for the test to patch
 * as the controller does.
 */
public final class SidecarWebhookConfigurations {
  private SidecarWebhookConfigurations() {}

  /**
   * Configuration {@code name} calling https://127.0.0.1:{@code port}; {@code namespaceLabels}
   * narrow it further (to one test's namespace, whatever other tests label).
   */
  public static MutatingWebhookConfiguration local(
      String name, int port, Map<String, String> namespaceLabels) {
    return local(
        name,
        "sidecar.inject.juicefs.com",
        port,
        SidecarWebhook.PATH,
        SidecarInjection.NAMESPACE_LABEL,
        namespaceLabels);
  }

  /** The serverless route's configuration, for namespaces labelled for it. */
  public static MutatingWebhookConfiguration serverless(
      String name, int port, Map<String, String> namespaceLabels) {
    return local(
        name,
        "sidecar.inject.serverless.juicefs.com",
        port,
        SidecarWebhook.SERVERLESS_PATH,
        SidecarInjection.SERVERLESS_NAMESPACE_LABEL,
        namespaceLabels);
  }

  private static MutatingWebhookConfiguration local(
      String name,
      String webhook,
      int port,
      String path,
      String namespaceLabel,
      Map<String, String> namespaceLabels) {
    Map<String, String> match = new HashMap<>(namespaceLabels);
    match.put(namespaceLabel, "true");
    return new MutatingWebhookConfigurationBuilder()
        .withNewMetadata()
        .withName(name)
        .endMetadata()
        .addNewWebhook()
        .withName(webhook)
        .withAdmissionReviewVersions("v1")
        .withNewClientConfig()
        .withUrl("https://127.0.0.1:" + port + path)
        .endClientConfig()
        .addNewRule()
        .withOperations("CREATE")
        .withApiGroups("")
        .withApiVersions("v1")
        .withResources("pods")
        .endRule()
        .withNewNamespaceSelector()
        .withMatchLabels(match)
        .endNamespaceSelector()
        .withFailurePolicy("Fail")
        .withSideEffects("NoneOnDryRun")
        .withTimeoutSeconds(10)
        .endWebhook()
        .build();
  }
}

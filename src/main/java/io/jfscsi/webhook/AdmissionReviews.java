package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.StatusBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionRequest;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponse;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionResponseBuilder;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReview;
import io.fabric8.kubernetes.api.model.admission.v1.AdmissionReviewBuilder;
import io.fabric8.kubernetes.client.utils.KubernetesSerialization;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * AdmissionReview v1 in and out, with fabric8's admission model: the pod of a request, and the
 * response to it for an {@link SidecarInjection.Outcome} (a JSONPatch of whole members for an
 * injected pod: its labels, annotations, containers, init containers and volumes). Pure.
 */
public final class AdmissionReviews {
  private AdmissionReviews() {}

  static final KubernetesSerialization JSON = new KubernetesSerialization();

  /** The review in {@code json}; a body that is not one is an {@link IllegalArgumentException}. */
  public static AdmissionReview parse(String json) {
    AdmissionReview review;
    try {
      review = JSON.unmarshal(json, AdmissionReview.class);
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("the body is not an AdmissionReview: " + e.getMessage());
    }
    if (review == null || review.getRequest() == null || review.getRequest().getUid() == null) {
      throw new IllegalArgumentException("the AdmissionReview has no request with a uid");
    }
    return review;
  }

  /** The pod the request creates, or null when it holds no pod. */
  public static Pod pod(AdmissionRequest request) {
    Object object = request.getObject();
    if (object == null) {
      return null;
    }
    Pod pod = object instanceof Pod p ? p : JSON.convertValue(object, Pod.class);
    // The API server fills the namespace in later for a pod posted without one.
    if (pod.getMetadata() != null
        && pod.getMetadata().getNamespace() == null
        && request.getNamespace() != null) {
      pod.getMetadata().setNamespace(request.getNamespace());
    }
    return pod;
  }

  /** The review answering {@code request} with {@code outcome}; {@code before} is its pod. */
  public static AdmissionReview respond(
      AdmissionRequest request, Pod before, SidecarInjection.Outcome outcome) {
    var response = new AdmissionResponseBuilder().withUid(request.getUid());
    switch (outcome) {
      case SidecarInjection.Outcome.Unchanged u -> response.withAllowed(true);
      case SidecarInjection.Outcome.Refused r ->
          response
              .withAllowed(false)
              .withStatus(
                  new StatusBuilder()
                      .withCode(400)
                      .withReason("BadRequest")
                      .withMessage(r.message())
                      .build());
      case SidecarInjection.Outcome.Injected i ->
          response
              .withAllowed(true)
              .withPatchType("JSONPatch")
              .withPatch(
                  Base64.getEncoder()
                      .encodeToString(
                          JSON.asJson(patch(before, i.pod())).getBytes(StandardCharsets.UTF_8)));
    }
    return review(response.build());
  }

  /** A refusal of a request that could not be read or answered (no pod is admitted blind). */
  public static AdmissionReview error(String uid, int code, String message) {
    return review(
        new AdmissionResponseBuilder()
            .withUid(uid)
            .withAllowed(false)
            .withStatus(new StatusBuilder().withCode(code).withMessage(message).build())
            .build());
  }

  private static AdmissionReview review(AdmissionResponse response) {
    return new AdmissionReviewBuilder()
        .withApiVersion("admission.k8s.io/v1")
        .withKind("AdmissionReview")
        .withResponse(response)
        .build();
  }

  /**
   * JSONPatch operations that turn {@code before} into {@code after}: whole members, since an
   * index-wise patch would race nothing here and say nothing more. {@code add} replaces a member
   * that exists (RFC 6902 4.1), so it serves both.
   */
  static List<Map<String, Object>> patch(Pod before, Pod after) {
    List<Map<String, Object>> ops = new ArrayList<>();
    ops.add(add("/metadata/labels", after.getMetadata().getLabels()));
    if (after.getMetadata().getAnnotations() != null
        && !after.getMetadata().getAnnotations().equals(before.getMetadata().getAnnotations())) {
      ops.add(add("/metadata/annotations", after.getMetadata().getAnnotations()));
    }
    ops.add(add("/spec/containers", after.getSpec().getContainers()));
    if (after.getSpec().getInitContainers() != null
        && !after.getSpec().getInitContainers().isEmpty()
        && !after.getSpec().getInitContainers().equals(before.getSpec().getInitContainers())) {
      ops.add(add("/spec/initContainers", after.getSpec().getInitContainers()));
    }
    ops.add(add("/spec/volumes", after.getSpec().getVolumes()));
    return ops;
  }

  private static Map<String, Object> add(String path, Object value) {
    Map<String, Object> op = new LinkedHashMap<>();
    op.put("op", "add");
    op.put("path", path);
    op.put("value", value);
    return op;
  }
}

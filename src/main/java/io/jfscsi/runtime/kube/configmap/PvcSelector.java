package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Which claims a {@code mountPodPatch} entry applies to: the claim's labels ({@code matchLabels},
 * {@code matchExpressions}), its name ({@code matchName}) and its StorageClass ({@code
 * matchStorageClassName}). Every criterion given must hold; a volume without a claim (an inline
 * volume, a static PV that no claim is bound to) matches no selector.
 */
public record PvcSelector(
    Map<String, String> matchLabels,
    List<LabelSelectorRequirement> matchExpressions,
    String matchName,
    String matchStorageClassName) {

  public PvcSelector {
    matchLabels = matchLabels == null ? Map.of() : Map.copyOf(matchLabels);
    matchExpressions = matchExpressions == null ? List.of() : List.copyOf(matchExpressions);
    matchName = matchName == null ? "" : matchName;
    matchStorageClassName = matchStorageClassName == null ? "" : matchStorageClassName;
  }

  public boolean matches(Optional<PersistentVolumeClaim> claim) {
    if (claim.isEmpty()) {
      return false;
    }
    PersistentVolumeClaim pvc = claim.get();
    if (!matchName.isEmpty() && !matchName.equals(pvc.getMetadata().getName())) {
      return false;
    }
    if (!matchStorageClassName.isEmpty()
        && !matchStorageClassName.equals(pvc.getSpec().getStorageClassName())) {
      return false;
    }
    Map<String, String> labels =
        pvc.getMetadata().getLabels() == null ? Map.of() : pvc.getMetadata().getLabels();
    return LabelMatch.matches(labels, matchLabels, matchExpressions);
  }
}

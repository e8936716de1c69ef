package io.jfscsi.runtime.kube.configmap;

import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Kubernetes label selector semantics ({@code matchLabels} and {@code matchExpressions} with {@code
 * In}, {@code NotIn}, {@code Exists}, {@code DoesNotExist}), all terms ANDed, as {@code
 * metav1.LabelSelectorAsSelector} evaluates them in the Go driver.
 */
final class LabelMatch {
  private LabelMatch() {}

  private static final Set<String> OPERATORS = Set.of("In", "NotIn", "Exists", "DoesNotExist");

  static boolean matches(
      Map<String, String> labels,
      Map<String, String> matchLabels,
      List<LabelSelectorRequirement> matchExpressions) {
    for (var e : matchLabels.entrySet()) {
      if (!e.getValue().equals(labels.get(e.getKey()))) {
        return false;
      }
    }
    for (LabelSelectorRequirement r : matchExpressions) {
      String value = labels.get(r.getKey());
      List<String> values = r.getValues() == null ? List.of() : r.getValues();
      boolean ok =
          switch (r.getOperator()) {
            case "In" -> value != null && values.contains(value);
            case "NotIn" -> value == null || !values.contains(value);
            case "Exists" -> value != null;
            case "DoesNotExist" -> value == null;
            default -> false;
          };
      if (!ok) {
        return false;
      }
    }
    return true;
  }

  /** Why {@code expressions} cannot be evaluated, or null: checked when the ConfigMap loads. */
  static String problem(String where, List<LabelSelectorRequirement> expressions) {
    for (LabelSelectorRequirement r : expressions) {
      if (r.getKey() == null || r.getKey().isEmpty()) {
        return where + ".matchExpressions: an expression has no key";
      }
      if (r.getOperator() == null || !OPERATORS.contains(r.getOperator())) {
        return where
            + ".matchExpressions: operator '"
            + r.getOperator()
            + "' of key '"
            + r.getKey()
            + "' is not In, NotIn, Exists or DoesNotExist";
      }
      boolean needsValues = r.getOperator().equals("In") || r.getOperator().equals("NotIn");
      boolean hasValues = r.getValues() != null && !r.getValues().isEmpty();
      if (needsValues != hasValues) {
        return where
            + ".matchExpressions: operator "
            + r.getOperator()
            + " of key '"
            + r.getKey()
            + (needsValues ? "' needs values" : "' takes no values");
      }
    }
    return null;
  }
}

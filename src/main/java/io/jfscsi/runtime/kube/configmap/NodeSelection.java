package io.jfscsi.runtime.kube.configmap;

import com.fasterxml.jackson.annotation.JsonCreator;
import io.fabric8.kubernetes.api.model.LabelSelector;
import io.fabric8.kubernetes.api.model.LabelSelectorRequirement;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * Which nodes a {@code mountPodPatch} entry applies to, by the node's labels. Written either as a
 * label selector ({@code matchLabels} / {@code matchExpressions}) or, like a pod's {@code
 * nodeSelector}, as a plain map of labels that must all be there.
 */
public record NodeSelection(
    Map<String, String> matchLabels, List<LabelSelectorRequirement> matchExpressions) {

  private static final JsonMapper JSON = JsonMapper.builder().build();

  public NodeSelection {
    matchLabels = matchLabels == null ? Map.of() : Map.copyOf(matchLabels);
    matchExpressions = matchExpressions == null ? List.of() : List.copyOf(matchExpressions);
  }

  @JsonCreator
  static NodeSelection of(JsonNode node) {
    if (node.has("matchLabels") || node.has("matchExpressions")) {
      LabelSelector s = JSON.treeToValue(node, LabelSelector.class);
      return new NodeSelection(s.getMatchLabels(), s.getMatchExpressions());
    }
    @SuppressWarnings("unchecked")
    Map<String, String> labels = JSON.treeToValue(node, Map.class);
    return new NodeSelection(labels, List.of());
  }

  public boolean matches(Optional<Map<String, String>> nodeLabels) {
    return nodeLabels.isPresent()
        && LabelMatch.matches(nodeLabels.get(), matchLabels, matchExpressions);
  }
}

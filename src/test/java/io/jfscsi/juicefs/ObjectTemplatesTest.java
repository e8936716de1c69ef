package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ObjectTemplatesTest {
  static final Optional<ObjectTemplates.Subject> PVC =
      Optional.of(
          ObjectTemplates.Subject.claim(
              "data", "team-a", Map.of("app", "web"), Map.of("example.com/owner", "alice")));
  static final Optional<ObjectTemplates.Subject> NODE =
      Optional.of(
          ObjectTemplates.Subject.node(
              "worker-1", "10.1.2.0/24", Map.of("zone", "z1"), Map.of("rack", "r7")));

  @Test
  void everyFieldTheGoDriverKnowsIsFilledIn() {
    assertThat(
            ObjectTemplates.fill(
                "${.pvc.name} ${.PVC.namespace} ${.pvc.labels.app}"
                    + " ${.pvc.annotations.example.com/owner} ${.node.name} ${.node.podCIDR}"
                    + " ${.node.labels.zone} ${.node.annotations.rack}",
                PVC,
                NODE,
                false))
        .isEqualTo("data team-a web alice worker-1 10.1.2.0/24 z1 r7");
  }

  @Test
  void aMissingLabelOrAnnotationOrUnknownFieldIsEmptyAsInTheGoDriver() {
    assertThat(
            ObjectTemplates.fill(
                "a${.pvc.labels.none}b${.node.annotations.none}c${.pvc.uid}d", PVC, NODE, false))
        .isEqualTo("abcd");
    assertThat(ObjectTemplates.unknown("${.pvc.uid}")).isPresent();
    assertThat(ObjectTemplates.unknown("${.pvc.labels.x} ${.node.podCIDR}")).isEmpty();
  }

  @Test
  void anAbsentObjectIsKeptForALaterStepOrEmpty() {
    assertThat(ObjectTemplates.fill("${.node.name}/${.pvc.name}", PVC, Optional.empty(), true))
        .isEqualTo("${.node.name}/data");
    assertThat(ObjectTemplates.fill("${.node.name}/${.pvc.name}", PVC, Optional.empty(), false))
        .isEqualTo("/data");
  }

  @Test
  void otherDollarTextIsLeftAlone() {
    assertThat(ObjectTemplates.fill("${MOUNT_POINT} $HOME ${.pod.name}", PVC, NODE, false))
        .isEqualTo("${MOUNT_POINT} $HOME ${.pod.name}");
    assertThat(ObjectTemplates.mentions("${.node.name}", "node")).isTrue();
    assertThat(ObjectTemplates.mentions("${.pvc.name}", "node")).isFalse();
  }
}

package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.Volumes.volume;
import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClaimSettingsTest {

  static Optional<ObjectTemplates.Subject> claim(Map<String, String> annotations) {
    return Optional.of(
        ObjectTemplates.Subject.claim("data", "team-a", Map.of("app", "web"), annotations));
  }

  static final Optional<ObjectTemplates.Subject> NODE =
      Optional.of(
          ObjectTemplates.Subject.node(
              "worker-1", "10.1.2.0/24", Map.of("zone", "z1"), Map.of("rack", "r7")));

  static VolumeSettings parse(VolumeSource source, Optional<ObjectTemplates.Subject> pvc) {
    return SettingsParser.parse(ClaimSettings.apply(source, pvc, "team-a/data", NODE));
  }

  @Test
  void aClaimAnnotationOverridesTheVolumeContextKeyOfTheSameName() {
    VolumeSource source =
        volume()
            .context("juicefs/mount-cpu-limit", "2")
            .context("juicefs/mount-memory-request", "1Gi")
            .source();
    VolumeSettings settings =
        parse(
            source,
            claim(Map.of("juicefs/mount-cpu-limit", "500m", "juicefs/mount-memory-limit", "2Gi")));
    assertThat(settings.resources().cpuLimitMillis()).contains(500L);
    assertThat(settings.resources().memoryLimitBytes()).contains(2L << 30);
    assertThat(settings.resources().memoryRequestBytes()).contains(1L << 30);
    // Other annotations of the claim are not settings.
    assertThat(parse(source, claim(Map.of("juicefs/mount-image", "evil:1"))).mountImage())
        .isEqualTo(SettingsParser.parse(source).mountImage());
  }

  @Test
  void aClaimAnnotationIsPartOfTheSettingsHashLikeTheVolumeContextKey() {
    VolumeSource plain = volume().source();
    String without = parse(plain, claim(Map.of())).clientHash();
    String with = parse(plain, claim(Map.of("juicefs/mount-cpu-limit", "3"))).clientHash();
    String viaContext =
        SettingsParser.parse(volume().context("juicefs/mount-cpu-limit", "3").source())
            .clientHash();
    assertThat(with).isNotEqualTo(without).isEqualTo(viaContext);
    assertThat(without).isEqualTo(SettingsParser.parse(plain).clientHash());
  }

  @Test
  void aBadAnnotationIsRefusedNamingTheClaimAndTheAnnotation() {
    String message =
        Volumes.refusal(
            () -> parse(volume().source(), claim(Map.of("juicefs/mount-memory-limit", "lots"))));
    assertThat(message)
        .contains("annotation 'juicefs/mount-memory-limit'")
        .contains("PVC team-a/data")
        .contains("'lots'")
        .contains("not a Kubernetes quantity");
    assertThat(
            Volumes.refusal(
                () -> parse(volume().source(), claim(Map.of("juicefs/mount-cpu-limit", "1e30")))))
        .contains("annotation 'juicefs/mount-cpu-limit' of PVC team-a/data")
        .contains("too large");
  }

  @Test
  void mountOptionTemplatesOfTheClaimAndNodeAreFilledIn() {
    VolumeSource source =
        volume()
            .mountFlags("cache-dir=/cache/${.node.name}/${.pvc.namespace}", "subdir=${.pvc.name}")
            .context("mountOptions", "cache-size=${.node.annotations.rack}0")
            .source();
    VolumeSource applied = ClaimSettings.apply(source, claim(Map.of()), "team-a/data", NODE);
    assertThat(applied.mountFlags())
        .containsExactly("cache-dir=/cache/worker-1/team-a", "subdir=data");
    assertThat(applied.context()).containsEntry("mountOptions", "cache-size=r70");
    assertThat(ClaimSettings.needsNode(source)).isTrue();
    assertThat(ClaimSettings.needsNode(volume().mountFlags("subdir=${.pvc.name}").source()))
        .isFalse();
  }

  @Test
  void withoutAClaimItsTemplatesAreEmptyAndNothingIsOverridden() {
    VolumeSource source =
        volume()
            .mountFlags("cache-dir=/c/${.pvc.labels.app}x")
            .context("juicefs/mount-cpu-limit", "2")
            .source();
    VolumeSource applied = ClaimSettings.apply(source, Optional.empty(), "", Optional.empty());
    assertThat(applied.mountFlags()).containsExactly("cache-dir=/c/x");
    assertThat(applied.context()).isEqualTo(source.context());
  }
}

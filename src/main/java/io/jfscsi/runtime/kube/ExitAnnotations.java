package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.client.ExitOverride;
import io.jfscsi.juicefs.GoDuration;
import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Mount Pod's own say on its exit, as the Go driver reads it: the annotations {@code
 * juicefs-delete-delay} (a Go duration) and {@code juicefs-clean-cache} ({@code "true"}), which a
 * global ConfigMap patch may put on the pod. A volume whose context sets {@code
 * juicefs/mount-delete-delay} or {@code juicefs/clean-cache} keeps its own value, as in the Go
 * driver, whose builder writes the volume's value over the patch's.
 */
final class ExitAnnotations {
  private static final Logger log = LoggerFactory.getLogger(ExitAnnotations.class);

  private ExitAnnotations() {}

  static ExitOverride of(Pod pod, VolumeSettings volume) {
    Map<String, String> annotations = PodReferences.annotations(pod);
    Map<String, String> context = volume.source().context();
    Optional<Duration> delay = Optional.empty();
    String delayText = annotations.get(MountPodNames.DELETE_DELAY);
    if (delayText != null && !context.containsKey(VolumeSettings.DELETE_DELAY_KEY)) {
      try {
        Duration d = GoDuration.parseOrThrow(delayText.strip(), MountPodNames.DELETE_DELAY);
        if (d.isNegative() || d.compareTo(VolumeSettings.MAX_DELETE_DELAY) > 0) {
          throw new IllegalArgumentException(
              MountPodNames.DELETE_DELAY + " = '" + delayText + "' is not between 0 and 8760h");
        }
        delay = Optional.of(d);
      } catch (IllegalArgumentException e) {
        log.warn("Mount Pod {}: {}; ignored", pod.getMetadata().getName(), e.getMessage());
      }
    }
    Optional<Boolean> clean = Optional.empty();
    String cleanText = annotations.get(MountPodNames.CLEAN_CACHE);
    if (cleanText != null && !context.containsKey(VolumeSettings.CLEAN_CACHE_KEY)) {
      clean = Optional.of("true".equals(cleanText.strip()));
    }
    return new ExitOverride(delay, clean);
  }
}

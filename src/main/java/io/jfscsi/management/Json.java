package io.jfscsi.management;

import io.jfscsi.mount.ClientView;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The JSON the management routes answer, written by Jackson (in the jar through fabric8): a {@link
 * ClientView} as an object of its components in their order, an empty Optional as null, an Instant
 * as ISO-8601 text.
 */
final class Json {
  private Json() {}

  // Jackson 3 sorts properties by name unless told not to; the record's order reads better.
  private static final JsonMapper MAPPER =
      JsonMapper.builder().disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY).build();

  static String clients(List<ClientView> views) {
    return MAPPER.writeValueAsString(views);
  }

  /**
   * One volume: the clients that serve it on this node and its targets on them (in a share mode a
   * client also holds the targets of other volumes, which are not this volume's).
   */
  static String volume(String volumeId, List<ClientView> views) {
    Map<String, Object> volume = new LinkedHashMap<>();
    volume.put("volumeId", volumeId);
    volume.put("clients", views);
    volume.put(
        "targets",
        views.stream()
            .flatMap(
                v ->
                    v.volumeId().equals(volumeId)
                        ? v.targets().stream()
                        : v.targetsOf(volumeId).stream())
            .sorted()
            .toList());
    return MAPPER.writeValueAsString(volume);
  }

  /**
   * What a write route did: {@code {"message": ...}}, or {@code {"error": ...}} when it did not.
   */
  static String outcome(boolean done, String message) {
    return MAPPER.writeValueAsString(Map.of(done ? "message" : "error", message));
  }

  static String error(String message) {
    return MAPPER.writeValueAsString(Map.of("error", message));
  }
}

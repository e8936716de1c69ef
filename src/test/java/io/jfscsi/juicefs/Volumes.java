package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.Failure;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.Assertions;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;

/** Builds volume sources for the tests: a valid CE secret unless a test changes it. */
final class Volumes {
  private final Map<String, String> secrets =
      new HashMap<>(Map.of("name", "myjfs", "metaurl", "redis://redis.example:6379/1"));
  private final Map<String, String> context = new HashMap<>();
  private List<String> mountFlags = List.of();

  static Volumes volume() {
    return new Volumes();
  }

  Volumes secret(String key, String value) {
    if (value == null) {
      secrets.remove(key);
    } else {
      secrets.put(key, value);
    }
    return this;
  }

  Volumes context(String key, String value) {
    context.put(key, value);
    return this;
  }

  Volumes mountFlags(String... flags) {
    mountFlags = List.of(flags);
    return this;
  }

  VolumeSource source() {
    return new VolumeSource("pv-1", secrets, context, mountFlags);
  }

  VolumeSettings parse() {
    return SettingsParser.parse(source());
  }

  /** Asserts that parsing is refused with INVALID_ARGUMENT; returns the message for checks. */
  String refusal() {
    return refusal(this::parse);
  }

  static String refusal(ThrowingCallable call) {
    Failure[] caught = new Failure[1];
    assertThatThrownBy(call)
        .isInstanceOfSatisfying(
            Failure.class,
            f -> {
              caught[0] = f;
            });
    Assertions.assertThat(caught[0].code()).isEqualTo(Failure.Code.INVALID_ARGUMENT);
    return caught[0].getMessage();
  }
}

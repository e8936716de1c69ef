package io.jfscsi.juicefs;

import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes a volume's secret values from text that goes into logs and Failure messages (client
 * output, command lines). Every value of the secret map counts as secret except a few keys that
 * name things rather than grant access, so that messages stay useful.
 *
 * <p>Complements {@link io.jfscsi.juicefs.ClientCommand#redacted}, which masks argv by its
 * structure: this one masks by value, which is what free-form client output needs.
 */
public final class Redactor {
  public static final String MASK = "******";

  /** Secret keys whose values identify, not authorize: shown as they are. */
  private static final Set<String> NOT_SECRET = Set.of("name", "storage", "format-options");

  private final List<String> values;

  private Redactor(List<String> values) {
    this.values = values;
  }

  public static Redactor forSettings(VolumeSettings settings) {
    Set<String> found = new LinkedHashSet<>();
    boolean local = settings.localDirectory().isPresent();
    settings
        .source()
        .secrets()
        .forEach(
            (k, v) -> {
              // A local:// metaurl names a directory, which messages must be able to show.
              if (!NOT_SECRET.contains(k) && !(local && k.equals("metaurl"))) {
                found.add(v);
              }
            });
    if (!local) {
      found.add(settings.metaUrl().reveal());
      found.addAll(urlPasswords(settings.metaUrl().reveal()));
    }
    settings.accessKey().map(SecretValue::reveal).ifPresent(found::add);
    settings.secretKey().map(SecretValue::reveal).ifPresent(found::add);
    // It came inside 'format-options', whose other values are shown.
    settings.sessionToken().map(SecretValue::reveal).ifPresent(found::add);
    settings.bucket().ifPresent(b -> found.addAll(urlPasswords(b)));
    return of(found);
  }

  /**
   * For text where only a Secret's values are at hand (a Mount Pod's log read by the controller):
   * every value but those of {@link #NOT_SECRET} keys, and the passwords inside URL-shaped ones.
   */
  public static Redactor forSecrets(Map<String, String> secrets) {
    Set<String> found = new LinkedHashSet<>();
    secrets.forEach(
        (k, v) -> {
          if (!NOT_SECRET.contains(k) && v != null && !v.isEmpty()) {
            found.add(v);
            found.addAll(urlPasswords(v));
          }
        });
    return of(found);
  }

  private static Redactor of(Set<String> found) {
    found.removeIf(v -> v == null || v.isEmpty());
    List<String> sorted = new ArrayList<>(found);
    // Longest first, so that a password inside a URL does not leave the rest of the URL behind.
    sorted.sort(Comparator.comparingInt(String::length).reversed());
    return new Redactor(List.copyOf(sorted));
  }

  public String redact(String text) {
    String out = text;
    for (String v : values) {
      out = out.replace(v, MASK);
    }
    return out;
  }

  /** The values masked, longest first; values with a line break never match a line of output. */
  public List<String> values() {
    return values;
  }

  public String redact(List<String> argv) {
    return redact(String.join(" ", argv));
  }

  /** The password of {@code user:password@host} URLs, which clients may print masked or not. */
  private static List<String> urlPasswords(String url) {
    try {
      String userInfo = URI.create(url).getRawUserInfo();
      if (userInfo != null && userInfo.contains(":")) {
        String password = userInfo.substring(userInfo.indexOf(':') + 1);
        return List.of(password, URLDecoder.decode(password, StandardCharsets.UTF_8));
      }
    } catch (RuntimeException e) {
      // Not a URL this parser understands (e.g. redis sentinel lists): the whole value is masked.
    }
    return List.of();
  }
}

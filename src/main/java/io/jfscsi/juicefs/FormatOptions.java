package io.jfscsi.juicefs;

import static io.jfscsi.juicefs.OptionSpec.Kind.SIZE;
import static io.jfscsi.juicefs.OptionSpec.Kind.TEXT;
import static io.jfscsi.juicefs.OptionSpec.Kind.WHOLE;
import static io.jfscsi.juicefs.OptionSpec.choice;
import static io.jfscsi.juicefs.OptionSpec.flag;
import static io.jfscsi.juicefs.OptionSpec.of;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Options of JuiceFS Community Edition's {@code juicefs format}, from the secret key {@code
 * format-options} ({@code k=v,k2=v2} or bare flags {@code k}, passed on as {@code --k=v}) and from
 * the older secret keys that name a format option directly ({@code block-size}, {@code trash-days},
 * ...). Values came from a secret: messages name the option, never its value.
 */
final class FormatOptions {
  private FormatOptions() {}

  private static final Map<String, OptionSpec> OPTIONS =
      Stream.of(
              // data storage
              of("storage", TEXT),
              of("bucket", TEXT),
              of("access-key", TEXT),
              of("secret-key", TEXT),
              of("session-token", TEXT),
              of("storage-class", TEXT),
              // data format
              of("block-size", SIZE),
              choice("compress", "lz4", "zstd", "none"),
              of("encrypt-rsa-key", TEXT),
              choice("encrypt-algo", "aes256gcm-rsa", "chacha20-rsa"),
              flag("hash-prefix"),
              of("shards", WHOLE),
              // management
              of("capacity", SIZE),
              of("inodes", WHOLE),
              of("trash-days", WHOLE),
              flag("enable-acl"),
              of("ranger-rest-url", TEXT),
              of("ranger-service", TEXT),
              of("kerberos-config-file", TEXT),
              // behaviour of the command
              flag("force"),
              flag("no-update"))
          .collect(Collectors.toUnmodifiableMap(OptionSpec::name, Function.identity()));

  /** Secret keys that older Go driver secrets use to set a format option directly. */
  static final List<String> LEGACY_SECRET_KEYS =
      List.of("block-size", "compress", "trash-days", "capacity", "inodes", "shards");

  /** The one credential left among the options once the keys are folded out (SecretSettings). */
  static final String SESSION_TOKEN = "session-token";

  /**
   * Options whose value is a credential: never on a command line ({@link ClientCommand}), and kept
   * out of logs by {@link ClientCommand#redacted} should one be seen there.
   */
  static final Set<String> SECRET_OPTIONS = Set.of("access-key", "secret-key", SESSION_TOKEN);

  /**
   * Parses {@code formatOptions} (may be null) and the legacy format keys found in {@code secrets};
   * returns option name to value, "" meaning a flag that is on.
   */
  static Map<String, String> parse(String formatOptions, Map<String, String> secrets) {
    Map<String, String> out = new LinkedHashMap<>();
    if (formatOptions != null) {
      OptionItems.forEach(
          formatOptions, (name, value) -> add(out, name, value, "in secret key 'format-options'"));
    }
    for (String key : LEGACY_SECRET_KEYS) {
      String value = secrets.get(key);
      if (value != null && !value.isBlank()) {
        add(out, key, value.strip(), "in secret key '" + key + "'");
      }
    }
    return Collections.unmodifiableMap(out);
  }

  private static void add(Map<String, String> out, String rawName, String value, String where) {
    // Users copy options from 'juicefs format --help', leading dashes included.
    String name = rawName.startsWith("--") ? rawName.substring(2) : rawName;
    if (name.isEmpty()) {
      throw Failure.invalid(
          "an option "
              + where
              + " has a value but no name; write options as"
              + " name=value or bare flags, separated by commas, e.g. trash-days=1,hash-prefix");
    }
    OptionSpec spec = OPTIONS.get(name);
    if (spec == null) {
      throw Failure.invalid(
          "format option "
              + Quoted.of(name)
              + " "
              + where
              + " is not a JuiceFS"
              + " Community Edition 'juicefs format' option; check its spelling against"
              + " 'juicefs format --help'");
    }
    String normalized =
        spec.normalize(value)
            .orElseThrow(
                () ->
                    Failure.invalid(
                        "format option "
                            + Quoted.of(name)
                            + " "
                            + where
                            + " "
                            + spec.problem(value)));
    String earlier = out.putIfAbsent(name, normalized);
    if (earlier != null && !earlier.equals(normalized)) {
      throw Failure.invalid(
          "format option "
              + Quoted.of(name)
              + " is given twice with different values"
              + " (the second time "
              + where
              + "); keep one");
    }
  }
}

package io.jfscsi.juicefs;

import java.math.BigDecimal;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One option the JuiceFS client accepts: its name, what its value looks like, and how it reaches
 * the client. Checked here so that a typo or a bad number fails the CSI call with a clear message
 * instead of a client that dies at start with a message only the node log shows.
 *
 * @param name the option's canonical name, as {@code juicefs} spells the flag
 * @param kind the shape of its value
 * @param choices for {@link Kind#CHOICE}, the accepted values
 * @param fuse true for a FUSE option passed through {@code -o}, false for a {@code --flag}
 * @param refusal non-empty when the driver refuses the option: why, and what to do instead
 */
record OptionSpec(String name, Kind kind, Set<String> choices, boolean fuse, String refusal) {

  static OptionSpec flag(String name) {
    return new OptionSpec(name, Kind.FLAG, Set.of(), false, "");
  }

  static OptionSpec of(String name, Kind kind) {
    return new OptionSpec(name, kind, Set.of(), false, "");
  }

  static OptionSpec choice(String name, String... choices) {
    return new OptionSpec(name, Kind.CHOICE, Set.of(choices), false, "");
  }

  static OptionSpec fuse(String name, Kind kind) {
    return new OptionSpec(name, kind, Set.of(), true, "");
  }

  static OptionSpec refused(String name, Kind kind, String why) {
    return new OptionSpec(name, kind, Set.of(), false, why);
  }

  /**
   * Normalizes the value given after {@code =} (null when the option was given bare): returns the
   * value to keep ("" for a flag that is on, "false" for one turned off), or empty with {@link
   * #problem(String)} telling why it is bad.
   */
  Optional<String> normalize(String value) {
    if (kind == Kind.FLAG) {
      if (value == null || value.equalsIgnoreCase("true")) {
        return Optional.of("");
      }
      return value.equalsIgnoreCase("false") ? Optional.of("false") : Optional.empty();
    }
    if (value == null || value.isEmpty()) {
      return Optional.empty();
    }
    boolean ok = kind == Kind.CHOICE ? choices.contains(value) : kind.accepts(value);
    return ok ? Optional.of(value) : Optional.empty();
  }

  /** What a valid value looks like, for the message when {@link #normalize} refused one. */
  String problem(String value) {
    if (kind == Kind.FLAG) {
      return "takes no value (or true/false)";
    }
    if (value == null || value.isEmpty()) {
      return "needs a value, e.g. " + name + "=" + kind.example;
    }
    if (kind == Kind.CHOICE) {
      return "must be one of " + String.join(", ", choices.stream().sorted().toList());
    }
    if (value.length() > MAX_VALUE_LENGTH) {
      return "has a value of "
          + value.length()
          + " characters; at most "
          + MAX_VALUE_LENGTH
          + " are accepted";
    }
    return "must be " + kind.description + kind.bound + ", e.g. " + name + "=" + kind.example;
  }

  /** The longest value of any option: a CSI map entry holds at most 4 KiB. */
  static final int MAX_VALUE_LENGTH = 4096;

  /** The bounds below: what the client's flag parsers (Go int, int64 nanoseconds) can hold. */
  private static final BigDecimal MAX_WHOLE = BigDecimal.valueOf(Integer.MAX_VALUE);

  private static final BigDecimal MAX_BYTES = BigDecimal.valueOf(Long.MAX_VALUE);
  private static final BigDecimal MAX_SECONDS = BigDecimal.valueOf(Long.MAX_VALUE / 1_000_000_000L);

  /** The shapes of option values, as the JuiceFS client parses them. */
  enum Kind {
    FLAG("", "", "", null),
    /** A non-negative integer: counts, retries, ids. */
    WHOLE("a whole number", " up to " + MAX_WHOLE, "10", Pattern.compile("[0-9]+")),
    /** A non-negative decimal number: ratios. */
    DECIMAL("a number", "", "0.1", Pattern.compile("[0-9]{1,18}(\\.[0-9]{1,18})?|\\.[0-9]{1,18}")),
    /** A size: a number with an optional unit (K, M, G, T, P, E, optionally with i and B). */
    SIZE(
        "a number with an optional unit",
        " (at most 8E in all)",
        "1024",
        Pattern.compile("[0-9]+(\\.[0-9]+)?([KkMmGgTtPpEe]i?[Bb]?|[Bb])?")),
    /** A time: seconds as a number, or a Go duration such as 1m30s. */
    SECONDS(
        "a number of seconds or a duration", " (at most " + MAX_SECONDS + " seconds)", "60", null),
    /** A file mode in octal. */
    OCTAL("an octal file mode", "", "0600", Pattern.compile("0?[0-7]{3}")),
    /** Free text, as long as it is not empty. */
    TEXT("a value", "", "value", null),
    /** Colon-separated absolute directories. */
    PATHS("absolute directories separated by ':'", "", "/var/jfsCache", null),
    CHOICE("", "", "", null);

    private final String description;
    private final String bound;
    private final String example;
    private final Pattern pattern;

    Kind(String description, String bound, String example, Pattern pattern) {
      this.description = description;
      this.bound = bound;
      this.example = example;
      this.pattern = pattern;
    }

    boolean accepts(String value) {
      if (value.length() > MAX_VALUE_LENGTH) {
        return false;
      }
      return switch (this) {
        case SECONDS ->
            value.matches("[0-9]+(\\.[0-9]+)?")
                ? new BigDecimal(value).compareTo(MAX_SECONDS) <= 0
                : GoDuration.parse(value).duration().filter(d -> !d.isNegative()).isPresent();
        case TEXT, PATHS -> value.indexOf('\0') < 0;
        case FLAG, CHOICE -> false;
        case WHOLE ->
            pattern.matcher(value).matches() && new BigDecimal(value).compareTo(MAX_WHOLE) <= 0;
        // Sizes without a unit are MiB for most options: bound them as such.
        case SIZE ->
            pattern.matcher(value).matches() && MountOptions.bytes(value).compareTo(MAX_BYTES) <= 0;
        default -> pattern.matcher(value).matches();
      };
    }
  }
}

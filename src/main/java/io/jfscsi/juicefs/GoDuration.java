package io.jfscsi.juicefs;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;

/**
 * Durations written the way Go's {@code time.ParseDuration} reads them ({@code 30s}, {@code 1m30s},
 * {@code 1.5h}, {@code 500ms}, {@code 0}), because the Go driver's users already wrote their {@code
 * juicefs/mount-delete-delay} values that way and must not have to rewrite them.
 */
public final class GoDuration {
  private GoDuration() {}

  private static final Map<String, BigInteger> NANOS_PER_UNIT =
      Map.of(
          "ns", BigInteger.ONE,
          "us", BigInteger.valueOf(1_000L),
          "\u00b5s", BigInteger.valueOf(1_000L), // micro sign, accepted by Go
          "\u03bcs", BigInteger.valueOf(1_000L), // Greek mu, accepted by Go
          "ms", BigInteger.valueOf(1_000_000L),
          "s", BigInteger.valueOf(1_000_000_000L),
          "m", BigInteger.valueOf(60_000_000_000L),
          "h", BigInteger.valueOf(3_600_000_000_000L));

  private static final BigDecimal MAX_NANOS = BigDecimal.valueOf(Long.MAX_VALUE);

  /**
   * Parses {@code text}, or says in a sentence fragment why it is not a Go duration (the caller
   * puts it in a message next to the key).
   */
  static Result parse(String text) {
    if (text.isEmpty()) {
      return Result.bad("is empty");
    }
    int i = 0;
    boolean negative = false;
    if (text.charAt(0) == '-' || text.charAt(0) == '+') {
      negative = text.charAt(0) == '-';
      i++;
    }
    if (text.substring(i).equals("0")) {
      return Result.ok(Duration.ZERO);
    }
    if (i == text.length()) {
      return Result.bad("has a sign but no number");
    }
    BigDecimal total = BigDecimal.ZERO;
    while (i < text.length()) {
      int numberStart = i;
      while (i < text.length() && isNumberChar(text.charAt(i))) {
        i++;
      }
      String number = text.substring(numberStart, i);
      if (number.isEmpty()
          || number.equals(".")
          || number.indexOf('.') != number.lastIndexOf('.')) {
        return Result.bad("needs a number before each unit");
      }
      int unitStart = i;
      while (i < text.length() && !isNumberChar(text.charAt(i))) {
        i++;
      }
      String unit = text.substring(unitStart, i);
      if (unit.isEmpty()) {
        return Result.bad("is missing a unit (ns, us, ms, s, m or h)");
      }
      BigInteger nanos = NANOS_PER_UNIT.get(unit);
      if (nanos == null) {
        return Result.bad("has an unknown unit; use ns, us, ms, s, m or h");
      }
      String plain = number.startsWith(".") ? "0" + number : number;
      plain = plain.endsWith(".") ? plain + "0" : plain;
      total = total.add(new BigDecimal(plain).multiply(new BigDecimal(nanos)));
      if (total.compareTo(MAX_NANOS) > 0) {
        return Result.bad("is too long");
      }
    }
    // Go truncates fractional nanoseconds; so do we.
    long whole = total.toBigInteger().longValueExact();
    return Result.ok(Duration.ofNanos(negative ? -whole : whole));
  }

  /** {@code text} as a duration when it is a Go duration; why not, otherwise. */
  public static Duration parseOrThrow(String text, String what) {
    Result r = parse(text);
    return r.duration()
        .orElseThrow(
            () ->
                new IllegalArgumentException(
                    what + " = '" + text + "' is not a Go duration: it " + r.problem()));
  }

  private static boolean isNumberChar(char c) {
    return c == '.' || (c >= '0' && c <= '9');
  }

  /** A parsed duration or the reason it could not be parsed. */
  record Result(Optional<Duration> duration, String problem) {
    static Result ok(Duration duration) {
      return new Result(Optional.of(duration), "");
    }

    static Result bad(String problem) {
      return new Result(Optional.empty(), problem);
    }
  }
}

package io.jfscsi.juicefs;

import java.math.BigDecimal;
import java.math.RoundingMode;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Kubernetes resource quantities ({@code 500m}, {@code 2}, {@code 1.5Gi}, {@code 1G},
 * {@code 129e6}), as written in {@code juicefs/mount-*-limit} and {@code -request}. Parsed here
 * rather than by a Kubernetes client so that settings can be validated with no cluster at all.
 */
final class Quantity {
  private Quantity() {}

  // Sign, a decimal number, then at most one suffix: binary (Ki..Ei), decimal SI (n..E) or an
  // exponent (e3, E-2). The same grammar as k8s.io/apimachinery's resource.ParseQuantity.
  private static final Pattern SYNTAX = Pattern.compile(
      "([+-]?)([0-9]+(?:\\.[0-9]*)?|\\.[0-9]+)(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E|[eE][+-]?[0-9]+)?");

  private static final Map<String, BigDecimal> SUFFIX = Map.ofEntries(
      Map.entry("", BigDecimal.ONE),
      Map.entry("n", new BigDecimal("1e-9")),
      Map.entry("u", new BigDecimal("1e-6")),
      Map.entry("m", new BigDecimal("1e-3")),
      Map.entry("k", new BigDecimal("1e3")),
      Map.entry("M", new BigDecimal("1e6")),
      Map.entry("G", new BigDecimal("1e9")),
      Map.entry("T", new BigDecimal("1e12")),
      Map.entry("P", new BigDecimal("1e15")),
      Map.entry("E", new BigDecimal("1e18")),
      Map.entry("Ki", BigDecimal.valueOf(1L << 10)),
      Map.entry("Mi", BigDecimal.valueOf(1L << 20)),
      Map.entry("Gi", BigDecimal.valueOf(1L << 30)),
      Map.entry("Ti", BigDecimal.valueOf(1L << 40)),
      Map.entry("Pi", BigDecimal.valueOf(1L << 50)),
      Map.entry("Ei", BigDecimal.valueOf(1L << 60)));

  private static final BigDecimal MAX = BigDecimal.valueOf(Long.MAX_VALUE);

  /** The exact value of {@code text}, or empty when it is not a Kubernetes quantity. */
  static Optional<BigDecimal> value(String text) {
    Matcher m = SYNTAX.matcher(text);
    if (!m.matches()) {
      return Optional.empty();
    }
    String suffix = m.group(3) == null ? "" : m.group(3);
    BigDecimal number = new BigDecimal(m.group(2).startsWith(".") ? "0" + m.group(2) : m.group(2));
    BigDecimal scale;
    if (suffix.length() > 1 && !suffix.equals("Ei")
        && (suffix.charAt(0) == 'e' || suffix.charAt(0) == 'E')) { // an exponent, not exbi
      int exponent;
      try {
        exponent = Integer.parseInt(suffix.substring(1));
      } catch (NumberFormatException e) {
        return Optional.empty();
      }
      if (Math.abs(exponent) > 40) {
        return Optional.empty(); // far beyond any resource; also keeps BigDecimal cheap
      }
      scale = BigDecimal.ONE.scaleByPowerOfTen(exponent);
    } else {
      scale = SUFFIX.get(suffix);
    }
    BigDecimal value = number.multiply(scale);
    return Optional.of(m.group(1).equals("-") ? value.negate() : value);
  }

  /**
   * CPU in millicores, rounded up like Kubernetes' MilliValue; 0 when the quantity is zero or
   * negative, which the Go driver treats as "no value" for this field (no request, no limit).
   */
  static long millicores(BigDecimal cores) {
    return nonNegativeLong(cores.movePointRight(3));
  }

  /** Memory in bytes, rounded up like Kubernetes' Value; 0 when zero or negative. */
  static long bytes(BigDecimal bytes) {
    return nonNegativeLong(bytes);
  }

  /** Whether the value fits a long after rounding up. */
  static boolean fits(BigDecimal value) {
    return value.setScale(0, RoundingMode.CEILING).compareTo(MAX) <= 0;
  }

  private static long nonNegativeLong(BigDecimal value) {
    return value.signum() <= 0 ? 0 : value.setScale(0, RoundingMode.CEILING).longValueExact();
  }
}

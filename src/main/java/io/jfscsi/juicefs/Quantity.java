package io.jfscsi.juicefs;

import java.math.BigDecimal;
import java.math.BigInteger;
import java.math.RoundingMode;
import java.util.Optional;

/**
 * Kubernetes resource quantities ({@code 500m}, {@code 2}, {@code 1.5Gi}, {@code 1G}, {@code
 * 129e6}), as written in {@code juicefs/mount-*-limit} and {@code -request}, parsed by fabric8's
 * Quantity, which needs no cluster, and rounded as Kubernetes rounds them.
 */
final class Quantity {
  private Quantity() {}

  /**
   * Beyond 10^40 or below 10^-40 is far beyond any resource. Bounded because fabric8 takes any
   * exponent: rounding 1e-999999999 up to whole millicores would compute a billion-digit number. (A
   * zero counts its written digits: 0e-41 is refused too.)
   */
  private static final int MAX_MAGNITUDE = 40;

  private static final BigDecimal EXBI = new BigDecimal(BigInteger.ONE.shiftLeft(60));

  /** The exact value of {@code text}, or empty when it is not a Kubernetes quantity. */
  static Optional<BigDecimal> value(String text) {
    // fabric8 reads any Unicode digit (Character.isDigit); Kubernetes reads ASCII ones only.
    if (text.isEmpty() || !text.chars().allMatch(c -> c < 0x80)) {
      return Optional.empty();
    }
    BigDecimal value;
    try {
      var parsed = io.fabric8.kubernetes.api.model.Quantity.parse(text);
      // fabric8 8.0 takes Ei as 1.152921504606847E+18 (16 digits), not 2^60: 1Ei would be
      // 24 bytes above the bound it names.
      value =
          parsed.getFormat().equals("Ei")
              ? new BigDecimal(parsed.getAmount()).multiply(EXBI)
              : parsed.getNumericalAmount();
    } catch (IllegalArgumentException | ArithmeticException e) { // NumberFormatException too
      return Optional.empty();
    }
    int exponent = value.precision() - value.scale() - 1; // of the leading digit: 1e-41 is -41
    if (Math.abs(exponent) > MAX_MAGNITUDE) {
      return Optional.empty();
    }
    return Optional.of(value);
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
    return value.setScale(0, RoundingMode.CEILING).compareTo(BigDecimal.valueOf(Long.MAX_VALUE))
        <= 0;
  }

  private static long nonNegativeLong(BigDecimal value) {
    return value.signum() <= 0 ? 0 : value.setScale(0, RoundingMode.CEILING).longValueExact();
  }
}

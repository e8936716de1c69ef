package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.math.BigDecimal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class QuantityTest {

  @ParameterizedTest(name = "CPU {0} is {1} millicores")
  @CsvSource({
    "500m, 500",
    "2, 2000",
    "0.5, 500",
    "1.25, 1250",
    "100u, 1",
    "1k, 1000000",
    "2e0, 2000",
    "1500000n, 2"
  })
  void cpu_is_read_in_millicores_rounding_up(String text, long millis) {
    assertThat(Quantity.value(text).map(Quantity::millicores)).contains(millis);
  }

  @ParameterizedTest(name = "memory {0} is {1} bytes")
  @CsvSource({
    "1Gi, 1073741824",
    "512Mi, 536870912",
    "1G, 1000000000",
    "128974848, 128974848",
    "129e6, 129000000",
    "1.5Gi, 1610612736",
    "2Ki, 2048",
    "1Ti, 1099511627776",
    "1E, 1000000000000000000",
    "500m, 1"
  })
  void memory_is_read_in_bytes_rounding_up(String text, long bytes) {
    assertThat(Quantity.value(text).map(Quantity::bytes)).contains(bytes);
  }

  @ParameterizedTest
  @ValueSource(strings = {"0", "-1", "-500m", "0Gi"})
  void zero_or_negative_is_zero_the_go_drivers_no_value(String text) {
    assertThat(Quantity.value(text)).isPresent();
    assertThat(Quantity.value(text).map(Quantity::millicores)).contains(0L);
    assertThat(Quantity.value(text).map(Quantity::bytes)).contains(0L);
  }

  @ParameterizedTest(name = "\"{0}\" is not a quantity")
  @ValueSource(
      strings = {"", "abc", "1GB", "1gi", "1 Gi", "1K", "Gi", "1.2.3", "1e", "1Mii", "--1"})
  void refuses_what_kubernetes_refuses(String text) {
    assertThat(Quantity.value(text)).isEmpty();
  }

  @ParameterizedTest(name = "\"{0}\" is not a quantity either")
  @ValueSource(
      strings = {
        "\u0661",
        "\u0661Gi",
        "1e41",
        "1e-41",
        "1e999999999",
        "1e-999999999",
        "0e-999999999"
      })
  void refuses_non_ascii_digits_and_exponents_far_beyond_any_resource(String text) {
    assertThat(Quantity.value(text)).isEmpty();
  }

  @ParameterizedTest(name = "{0} is exactly {1} bytes")
  @CsvSource({
    "1Ei, 1152921504606846976",
    "0.5Ei, 576460752303423488",
    "1024Pi, 1152921504606846976"
  })
  void exbibytes_are_exact(String text, long bytes) {
    assertThat(Quantity.value(text).map(Quantity::bytes)).contains(bytes);
  }

  @Test
  void values_beyond_a_long_do_not_fit() {
    assertThat(Quantity.fits(new BigDecimal("9223372036854775807"))).isTrue();
    assertThat(Quantity.fits(Quantity.value("10E").orElseThrow())).isFalse();
  }
}

package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {

  @Test
  void escapesWhatJsonRequires() {
    String nasty = "a\"b\\c\nd\re\tf\u0001g\u2028</script>";
    String json = Json.string(nasty);
    assertThat(json).isEqualTo("\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u2028<\\/script>\"");
    assertThat(Http.map("{\"v\":" + json + "}")).isEqualTo(Map.of("v", nasty));
  }

  @Test
  void nullIsNull() {
    assertThat(Json.string(null)).isEqualTo("null");
  }
}

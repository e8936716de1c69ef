package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.mount.ClientState;
import io.jfscsi.mount.ClientView;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class JsonTest {

  @Test
  void anyMessageSurvivesTheRoundTrip() {
    String nasty = "a\"b\\c\nd\re\tf\u0001g\u2028</script>";
    String json = Json.error(nasty);
    assertThat(json).doesNotContain("\n", "\r", "\t", "\u0001");
    assertThat(Http.map(json)).isEqualTo(Map.of("error", nasty));
  }

  @Test
  void aClientIsItsComponentsInOrderWithEmptyAsNullAndTimesAsIsoText() {
    ClientView v =
        new ClientView(
            "k",
            "vol",
            ClientState.DRAINING,
            "/m",
            "",
            Optional.empty(),
            List.of("/t1"),
            Optional.of(Instant.parse("2026-11-02T10:15:30.250Z")),
            2,
            Optional.empty());
    assertThat(Json.clients(List.of(v)))
        .isEqualTo(
            "[{\"key\":\"k\",\"volumeId\":\"vol\","
                + "\"state\":\"DRAINING\",\"mountPath\":\"/m\",\"subPath\":\"\",\"handle\":null,"
                + "\"targets\":[\"/t1\"],\"deleteAt\":\"2026-11-02T10:15:30.250Z\",\"restarts\":2,"
                + "\"lastError\":null,\"targetVolumes\":{\"/t1\":\"vol\"}}]");
  }
}

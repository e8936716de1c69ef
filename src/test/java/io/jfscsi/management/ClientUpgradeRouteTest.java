package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.cli.Main;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The upgrade trigger on a real driver (real HTTP, real actors, the embedded default's real bindfs
 * client): the route needs the token, names an unknown pod as such, and refuses a client that
 * cannot pass its FUSE connection with the reason, the client and its target serving on; {@code
 * jfs-csi upgrade} prints the Go driver's POD-FAIL line for it.
 */
class ClientUpgradeRouteTest {
  static final String TOKEN = "upgrade-s3cr3t";

  @TempDir Path dir;
  DriverFixture fixture;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    fixture = new DriverFixture(dir).with("management.token", TOKEN);
    Files.createDirectories(fixture.data.resolve("pvc-1"));
  }

  @AfterEach
  void tearDown() throws Exception {
    fixture.close();
  }

  @Test
  void aBindfsClientIsRefusedWithItsReasonAndServesOn() throws Exception {
    fixture.start();
    Http http = new Http(fixture.driver().managementPort().orElseThrow());
    Path a = fixture.target("pod-a", "pvc-1");
    fixture.publish("pvc-1", a);
    List<Map<String, Object>> clients = Http.list(http.get("/clients").body());
    String handle = clients.getFirst().get("handle").toString();

    assertThat(post(http, "/clients/upgrade/" + handle, null).statusCode()).isEqualTo(401);
    assertThat(post(http, "/clients/upgrade/no-such-pod", TOKEN).statusCode()).isEqualTo(404);

    HttpResponse<String> refused = post(http, "/clients/upgrade/" + handle, TOKEN);
    assertThat(refused.statusCode()).isEqualTo(412);
    assertThat(Http.map(refused.body()).get("error").toString())
        .contains("refused, nothing changed")
        .contains("bindfs");

    int code =
        Main.commandLine()
            .execute(
                "upgrade",
                handle,
                "--recreate",
                "--url",
                "http://127.0.0.1:" + fixture.driver().managementPort().orElseThrow(),
                "--token",
                TOKEN);
    assertThat(code).isEqualTo(1);

    List<Map<String, Object>> after = Http.list(http.get("/clients").body());
    assertThat(after.getFirst()).containsEntry("handle", handle).containsEntry("state", "READY");
    Files.writeString(a.resolve("still.txt"), "served");
    assertThat(Files.readString(a.resolve("still.txt"))).isEqualTo("served");
  }

  private static HttpResponse<String> post(Http http, String path, String token) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(http.uri(path)).POST(HttpRequest.BodyPublishers.noBody());
    if (token != null) {
      b.header("Authorization", "Bearer " + token);
    }
    return http.send(b);
  }
}

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
 * jfs-csi upgrade} prints the Go driver's POD-FAIL line for it. A batch ({@code POST
 * /clients/upgrade}, {@code jfs-csi upgrade BATCH}) skips such a client and succeeds.
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

  @Test
  void aBatchSkipsEveryBindfsClientAndEndsWithTheGoDriversSuccessLine() throws Exception {
    fixture.start();
    Http http = new Http(fixture.driver().managementPort().orElseThrow());
    Path a = fixture.target("pod-a", "pvc-1");
    fixture.publish("pvc-1", a);
    String handle = Http.list(http.get("/clients").body()).getFirst().get("handle").toString();

    assertThat(post(http, "/clients/upgrade", null).statusCode()).isEqualTo(401);
    assertThat(post(http, "/clients/upgrade", "wrong").statusCode()).isEqualTo(401);
    assertThat(http.get("/clients/upgrade").statusCode()).isEqualTo(405);
    assertThat(http.get("/clients/upgrade/" + handle).statusCode()).isEqualTo(405);
    HttpResponse<String> badWorker = post(http, "/clients/upgrade?worker=many", TOKEN);
    assertThat(badWorker.statusCode()).isEqualTo(400);
    assertThat(badWorker.body()).startsWith("BATCH-FAIL worker must be a whole number");

    HttpResponse<String> batch = post(http, "/clients/upgrade?worker=2&ignoreError=true", TOKEN);

    assertThat(batch.statusCode()).isEqualTo(200);
    assertThat(batch.headers().firstValue("Content-Type"))
        .hasValueSatisfying(t -> assertThat(t).startsWith("text/plain"));
    List<String> lines = batch.body().lines().toList();
    assertThat(lines.getFirst())
        .isEqualTo(
            "BATCH upgrade of the clients of node test-node: 2 at a time, going on past a failure");
    assertThat(lines)
        .anyMatch(
            l ->
                l.startsWith("POD-SKIPPED [" + handle + "]")
                    && l.contains("refused, nothing changed")
                    && l.contains("bindfs"))
        .contains("0 upgraded, 1 skipped (cannot be upgraded), 0 failed, 0 not started")
        .last()
        .isEqualTo("BATCH-SUCCESS all pods upgrade success in node test-node");

    String url = "http://127.0.0.1:" + fixture.driver().managementPort().orElseThrow();
    assertThat(
            Main.commandLine()
                .execute(
                    "upgrade",
                    "BATCH",
                    "--recreate",
                    "--worker=3",
                    "--ignoreError",
                    "--url",
                    url,
                    "--token",
                    TOKEN))
        .as("every client skipped is a batch that succeeded")
        .isZero();
    assertThat(
            Main.commandLine()
                .execute("upgrade", "BATCH", "--recreate", "--url", url, "--token", "wrong"))
        .isEqualTo(1);

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

package io.jfscsi.management;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Directives;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The token directive that every route changing something must pass. */
class WriteAccessTest {

  static ActorSystem<Void> system;
  static Http http;

  @BeforeAll
  static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "write-access-test");
    var route =
        Directives.concat(
            path(
                "open",
                () ->
                    post(
                        () ->
                            WriteAccess.requireToken(Optional.empty(), () -> complete("changed")))),
            path(
                "guarded",
                () ->
                    post(
                        () ->
                            WriteAccess.requireToken(
                                Optional.of("s3cr3t-token"), () -> complete("changed")))));
    ServerBinding binding =
        org.apache.pekko.http.javadsl.Http.get(system)
            .newServerAt("127.0.0.1", 0)
            .bind(route)
            .toCompletableFuture()
            .get(10, TimeUnit.SECONDS);
    http = new Http(binding.localAddress().getPort());
  }

  @AfterAll
  static void stop() {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  HttpResponse<String> write(String path, String authorization) {
    HttpRequest.Builder b =
        HttpRequest.newBuilder(http.uri(path)).POST(HttpRequest.BodyPublishers.noBody());
    if (authorization != null) {
      b.header("Authorization", authorization);
    }
    return http.send(b);
  }

  @Test
  void withoutAConfiguredTokenEveryWriteIsForbidden() {
    for (String auth : new String[] {null, "Bearer ", "Bearer anything", "Basic YTpi"}) {
      HttpResponse<String> r = write("/open", auth);
      assertThat(r.statusCode()).as(String.valueOf(auth)).isEqualTo(403);
      assertThat(Http.map(r.body()).get("error").toString())
          .contains("jfs-csi.management.token is not set");
    }
  }

  @Test
  void aMissingOrWrongTokenIsUnauthorized() {
    for (String auth :
        new String[] {
          null, "Bearer wrong", "Bearer s3cr3t-toke", "Basic czNjcjN0LXRva2Vu", "s3cr3t-token"
        }) {
      HttpResponse<String> r = write("/guarded", auth);
      assertThat(r.statusCode()).as(String.valueOf(auth)).isEqualTo(401);
      assertThat(r.headers().firstValue("WWW-Authenticate")).hasValue("Bearer realm=\"jfs-csi\"");
      assertThat(r.body()).doesNotContain("s3cr3t");
    }
  }

  @Test
  void theConfiguredTokenPasses() {
    for (String auth : new String[] {"Bearer s3cr3t-token", "bearer s3cr3t-token"}) {
      HttpResponse<String> r = write("/guarded", auth);
      assertThat(r.statusCode()).as(auth).isEqualTo(200);
      assertThat(r.body()).isEqualTo("changed");
    }
  }

  @Test
  void aBlankTokenSettingCountsAsNone() {
    assertThat(new ManagementSettings(true, "127.0.0.1", 0, Optional.of("  ")).token()).isEmpty();
  }
}

package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.jfscsi.mount.ClientState;
import io.jfscsi.mount.ClientView;
import io.jfscsi.mount.ListingGuardian;
import io.jfscsi.mount.MountActor;
import io.jfscsi.mount.NodeGuardian;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * An upgrade takes minutes on a real node (the old pod's grace, the new pod's start), far longer
 * than the HTTP server's request timeout (20 s by default; 1 s here): the single route still
 * answers with the upgrade's outcome, and the batch route, which streams, with all its lines. The
 * client is a stand-in that answers its upgrade after 3 s.
 */
class SlowUpgradeRouteTest {
  static final String TOKEN = "slow-t0ken";
  static final Duration UPGRADE_TAKES = Duration.ofSeconds(3);
  static ActorSystem<Void> system;
  static Http http;

  @BeforeAll
  static void start() throws Exception {
    ManagementSettings settings = new ManagementSettings(true, "127.0.0.1", 0, Optional.of(TOKEN));
    system =
        ActorSystem.create(
            Behaviors.empty(),
            "slow-upgrade-test",
            settings.applyTo(
                ConfigFactory.parseMap(Map.of("pekko.http.server.request-timeout", "1s"))
                    .withFallback(ConfigFactory.load())));
    ActorRef<MountActor.Command> client =
        system.systemActorOf(slowClient(), "slow-client", Props.empty());
    ActorRef<NodeGuardian.Command> guardian =
        system.systemActorOf(ListingGuardian.of(() -> List.of(client)), "guardian", Props.empty());
    ManagementServer server =
        ManagementServer.start(
            system,
            settings,
            guardian,
            new DriverMetrics(),
            () -> java.util.concurrent.CompletableFuture.completedFuture(true),
            "node-1");
    http = new Http(server.port());
  }

  @AfterAll
  static void stop() {
    system.terminate();
  }

  /**
   * Describes itself as serving in Mount Pod pod-slow; an upgrade succeeds 3 s after it is asked.
   */
  static org.apache.pekko.actor.typed.Behavior<MountActor.Command> slowClient() {
    ClientView view =
        new ClientView(
            "pvc-s-0123456789ab",
            "pvc-s",
            ClientState.READY,
            "/var/lib/juicefs/volume/pvc-s-0123456789ab",
            "pvc-s",
            Optional.of("pod-slow"),
            List.of(),
            Optional.empty(),
            0,
            Optional.empty());
    return Behaviors.receive(MountActor.Command.class)
        .onMessage(
            MountActor.Describe.class,
            d -> {
              d.replyTo().tell(view);
              return Behaviors.same();
            })
        .onMessage(
            MountActor.Upgrade.class,
            u -> {
              system
                  .scheduler()
                  .scheduleOnce(
                      UPGRADE_TAKES,
                      () ->
                          u.replyTo()
                              .tell(StatusReply.success("pod-slow was replaced by pod-slow-2")),
                      system.executionContext());
              return Behaviors.same();
            })
        .build();
  }

  @Test
  void aSingleUpgradeLongerThanTheRequestTimeoutIsAnsweredWithItsOutcome() {
    HttpResponse<String> r = post("/clients/upgrade/pod-slow");

    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    assertThat(Http.map(r.body())).containsEntry("message", "pod-slow was replaced by pod-slow-2");
  }

  @Test
  void aBatchLongerThanTheRequestTimeoutStreamsToItsLastLine() {
    HttpResponse<String> r = post("/clients/upgrade?worker=1");

    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body().lines().toList())
        .contains("POD-SUCCESS [pod-slow] pod-slow was replaced by pod-slow-2")
        .last()
        .isEqualTo("BATCH-SUCCESS all pods upgrade success in node node-1");
  }

  private static HttpResponse<String> post(String path) {
    return http.send(
        HttpRequest.newBuilder(http.uri(path))
            .header("Authorization", "Bearer " + TOKEN)
            .POST(HttpRequest.BodyPublishers.noBody()));
  }
}

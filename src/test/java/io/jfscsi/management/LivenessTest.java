package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import com.typesafe.config.ConfigFactory;
import io.jfscsi.mount.ListingGuardian;
import io.jfscsi.mount.NodeGuardian;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.Test;

/**
 * /alive fails when the node cannot serve: its guardian is gone or does not answer. Before, it said
 * OK as long as the actor system ran, so kubelet never restarted a driver whose every node call
 * timed out.
 */
class LivenessTest {

  @Test
  void aliveWhileTheGuardianAnswers() throws Exception {
    withGuardian(
        ListingGuardian.of(List::of),
        http -> assertThat(http.get("/alive").statusCode()).isEqualTo(200));
  }

  @Test
  void notAliveWhenTheGuardianDoesNotAnswer() throws Exception {
    withGuardian(
        Behaviors.ignore(),
        http -> {
          HttpResponse<String> r = http.get("/alive");
          assertThat(r.statusCode()).isEqualTo(503);
          assertThat(r.body()).contains("node guardian did not answer");
        });
  }

  @Test
  void notAliveWhenTheGuardianIsGone() throws Exception {
    withGuardian(
        Behaviors.stopped(),
        http -> {
          HttpResponse<String> r = http.get("/alive");
          assertThat(r.statusCode()).isEqualTo(503);
          assertThat(r.body()).contains("node guardian did not answer");
        });
  }

  private static void withGuardian(Behavior<NodeGuardian.Command> behavior, Consumer<Http> check)
      throws Exception {
    ManagementSettings settings = new ManagementSettings(true, "127.0.0.1", 0, Optional.empty());
    ActorSystem<Void> system =
        ActorSystem.create(
            Behaviors.empty(), "liveness-test", settings.applyTo(ConfigFactory.load()));
    try {
      ActorRef<NodeGuardian.Command> guardian =
          system.systemActorOf(behavior, "guardian", Props.empty());
      ManagementServer server =
          ManagementServer.start(
              system,
              settings,
              guardian,
              new DriverMetrics(),
              () -> CompletableFuture.completedFuture(true),
              "node-1");
      server.csiServing(true);
      check.accept(new Http(server.port()));
    } finally {
      system.terminate();
      system.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }
}

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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The routes on a real pekko-management server, with the guardian and its mount actors played by
 * actors that answer ListClients and Describe as the real ones do. No root needed.
 */
class ManagementRoutesTest {

  static ActorSystem<Void> system;
  static ManagementServer server;
  static Http http;
  static final AtomicReference<CompletionStage<Boolean>> probe =
      new AtomicReference<>(CompletableFuture.completedFuture(true));

  static final ClientView READY =
      new ClientView(
          "pvc-a-0123456789ab",
          "pvc-a",
          ClientState.READY,
          "/var/lib/juicefs/volume/pvc-a-0123456789ab",
          "pvc-a",
          Optional.of("4242"),
          List.of(
              "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pvc-a/mount",
              "/var/lib/kubelet/pods/p2/volumes/kubernetes.io~csi/pvc-a/mount"),
          Optional.empty(),
          0,
          Optional.empty());
  static final ClientView DRAINING =
      new ClientView(
          "pvc-b-ba9876543210",
          "pvc-b",
          ClientState.DRAINING,
          "/var/lib/juicefs/volume/pvc-b-ba9876543210",
          "",
          Optional.of("4343"),
          List.of(),
          Optional.of(Instant.parse("2026-11-02T10:15:30Z")),
          2,
          Optional.of("client 4343 died: exit \"1\"\nsee log"));

  @BeforeAll
  static void start() throws Exception {
    ManagementSettings settings = new ManagementSettings(true, "127.0.0.1", 0, Optional.empty());
    system =
        ActorSystem.create(
            Behaviors.empty(), "routes-test", settings.applyTo(ConfigFactory.load()));
    List<ActorRef<MountActor.Command>> clients = new ArrayList<>();
    clients.add(spawn(describing(READY), "client-a"));
    clients.add(spawn(describing(DRAINING), "client-b"));
    clients.add(
        spawn(Behaviors.<MountActor.Command>ignore(), "client-silent")); // never answers Describe
    ActorRef<NodeGuardian.Command> guardian = spawn(ListingGuardian.of(() -> clients), "guardian");
    server =
        ManagementServer.start(
            system, settings, guardian, new DriverMetrics(), () -> probe.get(), "node-1");
    http = new Http(server.port());
  }

  static <T> ActorRef<T> spawn(Behavior<T> behavior, String name) throws Exception {
    return system.<T>systemActorOf(behavior, name, Props.empty());
  }

  static Behavior<MountActor.Command> describing(ClientView view) {
    return Behaviors.receive(MountActor.Command.class)
        .onMessage(
            MountActor.Describe.class,
            d -> {
              d.replyTo().tell(view);
              return Behaviors.same();
            })
        .build();
  }

  @AfterAll
  static void stop() {
    system.terminate();
    system.getWhenTerminated().toCompletableFuture().orTimeout(30, TimeUnit.SECONDS).join();
  }

  @Test
  void aliveWhileTheActorSystemRuns() {
    HttpResponse<String> r = http.get("/alive");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("OK");
  }

  @Test
  void readyOnlyWhenTheSocketIsServedAndTheProbeSaysSo() {
    server.csiServing(false);
    HttpResponse<String> r = http.get("/ready");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("the CSI socket is not served");

    server.csiServing(true);
    probe.set(CompletableFuture.completedFuture(false));
    r = http.get("/ready");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).startsWith("the CSI Probe answers not ready");

    probe.set(CompletableFuture.failedFuture(new IllegalStateException("guardian timed out")));
    r = http.get("/ready");
    assertThat(r.statusCode()).isEqualTo(503);
    assertThat(r.body()).isEqualTo("the CSI Probe failed: guardian timed out");

    probe.set(CompletableFuture.completedFuture(true));
    r = http.get("/ready");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.body()).isEqualTo("OK");
  }

  @Test
  void clientsAsJsonLeavingOutOneThatDoesNotAnswer() {
    HttpResponse<String> r = http.get("/clients");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type")).hasValue("application/json");
    List<Map<String, Object>> clients = Http.list(r.body());
    assertThat(clients).hasSize(2);
    Map<String, Object> a = clients.get(0);
    assertThat(a)
        .containsOnlyKeys(
            "key",
            "volumeId",
            "state",
            "mountPath",
            "subPath",
            "handle",
            "targets",
            "deleteAt",
            "restarts",
            "lastError",
            "targetVolumes");
    assertThat(a)
        .containsEntry("key", "pvc-a-0123456789ab")
        .containsEntry("volumeId", "pvc-a")
        .containsEntry("state", "READY")
        .containsEntry("handle", "4242")
        .containsEntry("mountPath", "/var/lib/juicefs/volume/pvc-a-0123456789ab")
        .containsEntry("subPath", "pvc-a")
        .containsEntry("deleteAt", null)
        .containsEntry("restarts", 0L)
        .containsEntry("lastError", null);
    assertThat(a.get("targets")).isEqualTo(READY.targets());
    Map<String, Object> b = clients.get(1);
    assertThat(b)
        .containsEntry("state", "DRAINING")
        .containsEntry("deleteAt", "2026-11-02T10:15:30Z")
        .containsEntry("restarts", 2L)
        .containsEntry("lastError", "client 4343 died: exit \"1\"\nsee log")
        .containsEntry("targets", List.of());
  }

  @Test
  void oneVolumeOrNotFound() {
    HttpResponse<String> r = http.get("/volumes/pvc-a");
    assertThat(r.statusCode()).isEqualTo(200);
    Map<String, Object> volume = Http.map(r.body());
    assertThat(volume)
        .containsOnlyKeys("volumeId", "clients", "targets")
        .containsEntry("volumeId", "pvc-a")
        .containsEntry("targets", READY.targets());
    assertThat((List<?>) volume.get("clients")).hasSize(1);

    r = http.get("/volumes/pvc-none");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(Http.map(r.body()))
        .containsEntry("error", "no client serves volume pvc-none on this node");
  }

  @Test
  void noClusterViewWithoutKubernetes() {
    HttpResponse<String> r = http.get("/cluster");
    assertThat(r.statusCode()).isEqualTo(404);
    assertThat(Http.map(r.body()).get("error").toString()).startsWith("no cluster view");
  }

  @Test
  void metricsCountClientsByStateAndReferences() {
    HttpResponse<String> r = http.get("/metrics");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElseThrow())
        .startsWith("text/plain")
        .contains("version=0.0.4");
    String m = r.body();
    assertThat(Http.sample(m, "jfscsi_clients{state=\"READY\"}")).isEqualTo(1);
    assertThat(Http.sample(m, "jfscsi_clients{state=\"DRAINING\"}")).isEqualTo(1);
    assertThat(Http.sample(m, "jfscsi_clients{state=\"BROKEN\"}")).isEqualTo(0);
    assertThat(Http.sample(m, "jfscsi_references")).isEqualTo(2);
    assertThat(Http.sample(m, "jfscsi_client_restarts")).isEqualTo(2);
    // Call metrics appear with their first call (see DriverManagementTest).
    assertThat(m).doesNotContain("jfscsi_csi_call_duration_seconds");
  }

  @Test
  void dashboardPage() {
    HttpResponse<String> r = http.get("/");
    assertThat(r.statusCode()).isEqualTo(200);
    assertThat(r.headers().firstValue("Content-Type").orElseThrow()).startsWith("text/html");
    assertThat(r.body()).contains("<title>jfs-csi node</title>", "fetch(\"/clients\"");
  }

  @Test
  void nothingElseAndNoWrites() {
    assertThat(http.get("/nothing").statusCode()).isEqualTo(404);
    HttpResponse<String> post =
        http.send(
            HttpRequest.newBuilder(http.uri("/clients")).POST(HttpRequest.BodyPublishers.noBody()));
    assertThat(post.statusCode()).isEqualTo(405);
  }
}

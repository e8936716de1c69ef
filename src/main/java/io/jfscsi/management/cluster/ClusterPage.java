package io.jfscsi.management.cluster;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.completeOK;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.onComplete;
import static org.apache.pekko.http.javadsl.server.Directives.parameterOptional;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEndOrSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.Failure;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.marshalling.sse.EventStreamMarshalling;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.sse.ServerSentEvent;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import scala.util.Try;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * The controller's cluster routes, all read-only, under {@code /cluster}:
 *
 * <ul>
 *   <li>{@code GET /cluster}: the cluster as JSON ({@link ClusterView}), read from the API;
 *   <li>{@code GET /cluster/page}: the cluster page (one HTML file, no download at run time);
 *   <li>{@code GET /cluster/stream}: server-sent events {@code cluster}, each a whole picture
 *       ({@link ClusterPicture}) sent when something in it changed ({@link ClusterWatch});
 *   <li>{@code GET /cluster/volumes/PV}: one volume in detail ({@link VolumeDetail});
 *   <li>{@code GET /cluster/volumes/PV/log/NAMESPACE/POD[?previous=true]}: the tail of the client
 *       log of one of its Mount Pods, secret values masked.
 * </ul>
 */
public final class ClusterPage implements AutoCloseable {

  private static final ContentType.NonBinary JSON_TYPE =
      (ContentType.NonBinary) ContentTypes.APPLICATION_JSON;
  private static final JsonMapper JSON =
      JsonMapper.builder().disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY).build();

  /** A comment line on an idle stream, so that proxies do not close it. */
  static final Duration HEARTBEAT = Duration.ofSeconds(15);

  private final ClusterView view;
  private final ClusterWatch watch;
  private final VolumeDetail detail;
  private final String html;

  public ClusterPage(KubernetesClient client, String driverName) {
    this(client, driverName, Clock.systemUTC());
  }

  /** With the clock that ages claims and pods (tests move it past the grace). */
  ClusterPage(KubernetesClient client, String driverName, Clock clock) {
    this.view = new ClusterView(client, driverName);
    this.watch = new ClusterWatch(client, driverName, clock);
    this.detail = new VolumeDetail(client, driverName);
    this.html = resource("cluster.html");
  }

  /** The routes under {@code /cluster}. */
  public Route route() {
    return pathPrefix(
        "cluster",
        () ->
            concat(
                pathEndOrSingleSlash(() -> blocking(view::json, Optional::of)),
                path(
                    "page",
                    () ->
                        complete(
                            HttpResponse.create().withEntity(ContentTypes.TEXT_HTML_UTF8, html))),
                path("stream", this::stream),
                pathPrefix(
                    "volumes",
                    () ->
                        pathPrefix(
                            PathMatchers.segment(),
                            pv ->
                                concat(
                                    pathEndOrSingleSlash(
                                        () ->
                                            blocking(
                                                () -> detail.of(pv),
                                                d -> d.map(JSON::writeValueAsString))),
                                    path(
                                        PathMatchers.segment("log")
                                            .slash(PathMatchers.segment())
                                            .slash(PathMatchers.segment()),
                                        (ns, pod) ->
                                            parameterOptional(
                                                "previous",
                                                previous -> log(pv, ns, pod, previous))))))));
  }

  @Override
  public void close() {
    watch.close();
  }

  private Route stream() {
    Source<ServerSentEvent, NotUsed> events =
        Source.<String>queue(4)
            .mapMaterializedValue(queue -> watch.subscribe(queue::offer))
            // A viewer that reads slowly gets the newest picture, not a backlog.
            .conflate((older, newer) -> newer)
            .map(json -> ServerSentEvent.create(json, "cluster"))
            .keepAlive(HEARTBEAT, ServerSentEvent::heartbeat)
            .watchTermination(
                (subscription, done) -> {
                  done.whenComplete((d, e) -> subscription.close());
                  return NotUsed.getInstance();
                });
    return completeOK(events, EventStreamMarshalling.toEventStream());
  }

  private Route log(String pv, String ns, String pod, Optional<String> previous) {
    boolean before = previous.map(Boolean::parseBoolean).orElse(false);
    return onComplete(
        CompletableFuture.supplyAsync(
            () -> detail.log(pv, ns, pod, before),
            task -> Thread.ofVirtual().name("cluster-page").start(task)),
        (Try<Optional<String>> t) -> {
          if (t.isFailure()) {
            return text(
                StatusCodes.SERVICE_UNAVAILABLE,
                "the API server did not give the log: " + message(t.failed().get()));
          }
          return t.get()
              .map(l -> text(StatusCodes.OK, l))
              .orElseGet(
                  () ->
                      text(
                          StatusCodes.NOT_FOUND,
                          ns + "/" + pod + " is no Mount Pod of volume " + pv));
        });
  }

  /** Runs a blocking read on a thread of its own, never on a pool that others share. */
  private static <T> Route blocking(Supplier<T> read, Function<T, Optional<String>> toJson) {
    return onComplete(
        CompletableFuture.supplyAsync(
            read, task -> Thread.ofVirtual().name("cluster-page").start(task)),
        (Try<T> t) -> {
          if (t.isFailure()) {
            return json(
                StatusCodes.SERVICE_UNAVAILABLE,
                error("the API server did not answer: " + message(t.failed().get())));
          }
          return toJson
              .apply(t.get())
              .map(body -> json(StatusCodes.OK, body))
              .orElseGet(() -> json(StatusCodes.NOT_FOUND, error("no such volume of this driver")));
        });
  }

  private static String message(Throwable failure) {
    Throwable cause = Failure.unwrap(failure);
    return cause.getMessage() == null ? cause.toString() : cause.getMessage();
  }

  private static String error(String message) {
    return JSON.writeValueAsString(Map.of("error", message));
  }

  private static Route json(StatusCode status, String body) {
    return complete(HttpResponse.create().withStatus(status).withEntity(JSON_TYPE, body));
  }

  private static Route text(StatusCode status, String body) {
    return complete(
        HttpResponse.create().withStatus(status).withEntity(ContentTypes.TEXT_PLAIN_UTF8, body));
  }

  private static String resource(String name) {
    try (InputStream in = ClusterPage.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

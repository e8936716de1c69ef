package io.jfscsi.management;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.onComplete;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEndOrSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.pathSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.Directives.respondWithHeader;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeout;

import com.typesafe.config.Config;
import io.jfscsi.Asks;
import io.jfscsi.management.cluster.ClusterPage;
import io.jfscsi.mount.ClientView;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.PathMatchers;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.management.HealthCheckSettings;
import org.apache.pekko.management.javadsl.CheckResult;
import org.apache.pekko.management.javadsl.HealthChecks;
import org.apache.pekko.management.javadsl.ManagementRouteProvider;
import org.apache.pekko.management.javadsl.ManagementRouteProviderSettings;
import scala.util.Try;

/**
 * The management routes, contributed to pekko-management's HTTP server. All of them but the
 * upgrades ({@code POST /clients/upgrade[/<pod>]}, {@link #upgrade}) only read:
 *
 * <ul>
 *   <li>{@code GET /alive}, {@code GET /ready}: pekko-management's configured liveness and
 *       readiness checks; 200 {@code OK}, or 503 with the reason;
 *   <li>{@code GET /clients}: the clients of this node as a JSON array;
 *   <li>{@code GET /volumes/{id}}: one volume's clients and targets; 404 when none;
 *   <li>{@code GET /cluster}, {@code /cluster/page} and the rest of {@link ClusterPage}: the
 *       controller's view of the cluster, as JSON and as a live page; 404 without it;
 *   <li>{@code GET /metrics}: Prometheus text;
 *   <li>{@code GET /}: the dashboard page.
 * </ul>
 *
 * A route that changes something must be wrapped in {@link WriteAccess#requireToken}.
 */
public final class ManagementRoutes implements ManagementRouteProvider {

  private static final ContentType.NonBinary HTML = ContentTypes.TEXT_HTML_UTF8;
  private static final ContentType.NonBinary JSON =
      (ContentType.NonBinary) ContentTypes.APPLICATION_JSON;

  private final ManagementContext context;
  private final HealthChecks checks;
  private final Scheduler scheduler;
  private final ExtendedActorSystem system;
  private final String dashboard;
  private final String clusterPageUrl;
  private final String namespace;

  public ManagementRoutes(ExtendedActorSystem system) {
    this.context = ManagementContext.get(system);
    this.checks =
        new HealthChecks(
            system,
            HealthCheckSettings.create(
                system.settings().config().getConfig("pekko.management.health-checks")));
    this.scheduler = Adapter.toTyped(system).scheduler();
    this.system = system;
    this.dashboard = resource("dashboard.html");
    Config config = system.settings().config();
    this.clusterPageUrl = setting(config, "jfs-csi.management.cluster-page-url");
    this.namespace =
        Optional.of(setting(config, "jfs-csi.kubernetes.namespace"))
            .filter(n -> !n.isEmpty())
            .orElse("kube-system");
  }

  @Override
  public Route routes(ManagementRouteProviderSettings settings) {
    return respondWithHeader(
        RawHeader.create("Cache-Control", "no-store"),
        () ->
            concat(
                upgrade(),
                get(
                    () ->
                        concat(
                            pathSingleSlash(
                                () ->
                                    complete(
                                        HttpResponse.create()
                                            .withEntity(
                                                HTML,
                                                dashboard.replace(
                                                    "<!--cluster-page-->", clusterPageLink())))),
                            path("alive", () -> health(checks.aliveResult())),
                            path("ready", () -> ready(checks.readyResult())),
                            path(
                                "clients",
                                () ->
                                    withClients(
                                        views -> json(StatusCodes.OK, Json.clients(views)))),
                            pathPrefix("volumes", () -> path(PathMatchers.segment(), this::volume)),
                            cluster(),
                            path(
                                "metrics",
                                () ->
                                    withClients(
                                        views -> {
                                          DriverMetrics metrics = context.hooks().metrics();
                                          metrics.observe(views);
                                          return complete(
                                              HttpResponse.create()
                                                  .withEntity(
                                                      ContentTypes.parse(
                                                          DriverMetrics.CONTENT_TYPE),
                                                      metrics
                                                          .scrape()
                                                          .getBytes(StandardCharsets.UTF_8)));
                                        }))))));
  }

  /**
   * {@code POST /clients/upgrade/<mount-pod>} (token): a smooth upgrade of that Mount Pod's client
   * ({@link ClientUpgrades}); 200 with what happened, 412 when refused (nothing changed), 404 when
   * no client of this node runs in that pod, 409 while a batch upgrade runs, 503 when the upgrade
   * failed. {@code POST /clients/upgrade} (token): every client of this node ({@link
   * UpgradeBatchRoute}).
   */
  private Route upgrade() {
    // The path first: a method directive that passes cancels the other routes' method
    // rejections, and a POST elsewhere (POST /clients) would be 404 instead of 405.
    return concat(
        path(
            PathMatchers.segment("clients")
                .slash(PathMatchers.segment("upgrade"))
                .slash(PathMatchers.segment()),
            pod ->
                onlyPost(
                    // Its answer comes when the client has been replaced, minutes later.
                    () ->
                        withRequestTimeout(
                            ClientUpgrades.UPGRADE_TIMEOUT.plusMinutes(1),
                            () ->
                                WriteAccess.requireToken(
                                    context.hooks().settings().token(),
                                    () ->
                                        onComplete(
                                            upgradeOne(pod),
                                            (Try<ClientUpgrades.Outcome> t) ->
                                                t.isSuccess()
                                                    ? json(
                                                        StatusCodes.get(t.get().status()),
                                                        Json.outcome(
                                                            t.get().done(), t.get().message()))
                                                    : json(
                                                        StatusCodes.SERVICE_UNAVAILABLE,
                                                        Json.error(
                                                            ClientViews.message(
                                                                t.failed().get())))))))),
        path(
            PathMatchers.segment("clients").slash(PathMatchers.segment("upgrade")),
            () ->
                onlyPost(
                    () ->
                        WriteAccess.requireToken(
                            context.hooks().settings().token(),
                            () -> UpgradeBatchRoute.route(context.hooks().upgrades(), system)))));
  }

  /**
   * 405 for another method on a path that is only posted to: a plain method rejection would be
   * cancelled by the GET routes' method directive, which passes, and so turn into a 404.
   */
  private static Route onlyPost(Supplier<Route> inner) {
    return concat(
        post(inner),
        complete(
            HttpResponse.create()
                .withStatus(StatusCodes.METHOD_NOT_ALLOWED)
                .addHeader(RawHeader.create("Allow", "POST"))
                .withEntity(JSON, Json.error("this path is only posted to (POST)"))));
  }

  /** Through the node's upgrades, which refuse one while a batch runs. */
  private CompletionStage<ClientUpgrades.Outcome> upgradeOne(String pod) {
    ActorRef<NodeUpgrades.Command> upgrades = context.hooks().upgrades();
    if (upgrades == null) {
      return ClientUpgrades.upgrade(context.hooks().guardian(), scheduler, pod);
    }
    return Asks.ask(
        upgrades,
        replyTo -> new NodeUpgrades.UpgradeOne(pod, replyTo),
        ClientUpgrades.UPGRADE_TIMEOUT.plusSeconds(30),
        scheduler);
  }

  private Route volume(String id) {
    return pathEndOrSingleSlash(
        () ->
            withClients(
                views -> {
                  List<ClientView> serving = views.stream().filter(v -> v.serves(id)).toList();
                  return serving.isEmpty()
                      ? json(
                          StatusCodes.NOT_FOUND,
                          Json.error("no client serves volume " + id + " on this node"))
                      : json(StatusCodes.OK, Json.volume(id, serving));
                }));
  }

  /**
   * The node page's way to the cluster page: this driver's own when it has one, else the configured
   * {@code jfs-csi.management.cluster-page-url}, else how to reach the controller's.
   */
  private String clusterPageLink() {
    if (context.clusterPage().isPresent()) {
      return "<a href=\"/cluster/page\">cluster page</a>";
    }
    if (!clusterPageUrl.isEmpty()) {
      return "<a href=\"" + escape(clusterPageUrl) + "\">cluster page</a>";
    }
    return "cluster page: on the controller (<code>kubectl -n "
        + escape(namespace)
        + " port-forward deploy/jfs-csi-controller 9560</code>, then"
        + " http://localhost:9560/cluster/page)";
  }

  private static String escape(String text) {
    return text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("\"", "&quot;");
  }

  private Route cluster() {
    return context
        .clusterPage()
        .map(ClusterPage::route)
        .orElseGet(
            () ->
                pathPrefix(
                    "cluster",
                    () ->
                        json(
                            StatusCodes.NOT_FOUND,
                            Json.error(
                                "no cluster view: this driver runs without "
                                    + "Kubernetes or without the controller role"))));
  }

  private Route withClients(Function<List<ClientView>, Route> inner) {
    CompletionStage<List<ClientView>> views =
        ClientViews.fetch(context.hooks().guardian(), scheduler);
    return onComplete(
        views,
        (Try<List<ClientView>> t) ->
            t.isSuccess()
                ? inner.apply(t.get())
                : json(
                    StatusCodes.SERVICE_UNAVAILABLE,
                    Json.error(
                        "the node guardian did not answer: "
                            + ClientViews.message(t.failed().get()))));
  }

  /**
   * Readiness: still 200 while there are warnings (the driver works, with its last good
   * configuration), each on a line after the OK, so that a probe keeps the pod ready and a person
   * reading /ready sees them.
   */
  private Route ready(CompletionStage<CheckResult> result) {
    return onComplete(
        result,
        (Try<CheckResult> t) -> {
          if (t.isSuccess() && t.get().isSuccess()) {
            List<String> warnings = context.warnings();
            return complete(
                StatusCodes.OK,
                warnings.isEmpty()
                    ? "OK"
                    : "OK\n"
                        + String.join("\n", warnings.stream().map(w -> "warning: " + w).toList()));
          }
          return unhealthy(t);
        });
  }

  private static Route health(CompletionStage<CheckResult> result) {
    return onComplete(
        result,
        (Try<CheckResult> t) ->
            t.isSuccess() && t.get().isSuccess() ? complete(StatusCodes.OK, "OK") : unhealthy(t));
  }

  private static Route unhealthy(Try<CheckResult> t) {
    String reason =
        t.isSuccess() ? t.get().failure().orElse("not healthy") : reason(t.failed().get());
    return complete(StatusCodes.SERVICE_UNAVAILABLE, reason);
  }

  /** A check's own reason, under the wrapper pekko-management puts around it. */
  private static String reason(Throwable failure) {
    for (Throwable c = failure; c != null; c = c.getCause()) {
      if (c instanceof ReadinessCheck.NotReady) {
        return c.getMessage();
      }
    }
    return ClientViews.message(failure);
  }

  private static Route json(StatusCode status, String body) {
    return complete(HttpResponse.create().withStatus(status).withEntity(JSON, body));
  }

  private static String setting(Config config, String path) {
    return config.hasPath(path) ? config.getString(path) : "";
  }

  private static String resource(String name) {
    try (InputStream in = ManagementRoutes.class.getResourceAsStream(name)) {
      if (in == null) {
        throw new IllegalStateException("missing resource " + name);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

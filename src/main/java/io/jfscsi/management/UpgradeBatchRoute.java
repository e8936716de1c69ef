package io.jfscsi.management;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.parameterOptional;

import java.util.Optional;
import org.apache.pekko.actor.ClassicActorSystemProvider;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.CompletionStrategy;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * {@code POST /clients/upgrade?worker=N&ignoreError=true} (the token is checked before): every
 * client of this node upgraded through {@link NodeUpgrades}, answered as plain text, one line at a
 * time as it happens (a batch can take many minutes), in the Go driver's words: a line per pod
 * ({@code POD-SUCCESS [pod] ...}, {@code POD-SKIPPED}, {@code POD-FAIL}) and last {@code
 * BATCH-SUCCESS ...} or {@code BATCH-FAIL ...}. The status is 200 once the batch runs, so the last
 * line is the verdict; 400 for a parameter that does not parse, 404 without the node role.
 */
final class UpgradeBatchRoute {
  private UpgradeBatchRoute() {}

  /** Lines kept for a reader slower than the batch; the keepalive lines are the ones to drop. */
  private static final int BUFFERED_LINES = 1000;

  static Route route(ActorRef<NodeUpgrades.Command> upgrades, ClassicActorSystemProvider system) {
    return parameterOptional(
        "worker",
        worker ->
            parameterOptional(
                "ignoreError",
                ignoreError -> {
                  if (upgrades == null) {
                    return text(
                        StatusCodes.NOT_FOUND,
                        "BATCH-FAIL this driver has no node role: it runs no Mount Pod");
                  }
                  Optional<Integer> workers = whole(worker.orElse("1"));
                  if (workers.isEmpty()) {
                    return text(
                        StatusCodes.BAD_REQUEST,
                        "BATCH-FAIL worker must be a whole number, not " + worker.get());
                  }
                  Optional<Boolean> ignore = bool(ignoreError.orElse("false"));
                  if (ignore.isEmpty()) {
                    return text(
                        StatusCodes.BAD_REQUEST,
                        "BATCH-FAIL ignoreError must be true or false, not " + ignoreError.get());
                  }
                  return stream(upgrades, workers.get(), ignore.get(), system);
                }));
  }

  private static Route stream(
      ActorRef<NodeUpgrades.Command> upgrades,
      int workers,
      boolean ignoreError,
      ClassicActorSystemProvider system) {
    Pair<org.apache.pekko.actor.ActorRef, Source<NodeUpgrades.Line, org.apache.pekko.NotUsed>>
        lines =
            Source.<NodeUpgrades.Line>actorRef(
                    m ->
                        m instanceof NodeUpgrades.Line l && l.end()
                            ? Optional.of(CompletionStrategy.draining())
                            : Optional.empty(),
                    m -> Optional.empty(),
                    BUFFERED_LINES,
                    OverflowStrategy.dropHead())
                .preMaterialize(system);
    // A reader that goes away cancels only its stream: the batch runs on, as the Go driver's does.
    upgrades.tell(
        new NodeUpgrades.UpgradeAll(workers, ignoreError, Adapter.toTyped(lines.first())));
    return complete(
        HttpResponse.create()
            .withEntity(
                HttpEntities.createChunked(
                    ContentTypes.TEXT_PLAIN_UTF8,
                    lines.second().map(l -> ByteString.fromString(l.text() + "\n")))));
  }

  private static Optional<Integer> whole(String text) {
    try {
      return Optional.of(Integer.parseInt(text.trim()));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  private static Optional<Boolean> bool(String text) {
    return switch (text.trim().toLowerCase(java.util.Locale.ROOT)) {
      case "true", "" -> Optional.of(true);
      case "false" -> Optional.of(false);
      default -> Optional.empty();
    };
  }

  private static Route text(StatusCode status, String line) {
    return complete(
        HttpResponse.create()
            .withStatus(status)
            .withEntity(ContentTypes.TEXT_PLAIN_UTF8, line + "\n"));
  }
}

package io.jfscsi.management;

import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.mount.ClientView;
import io.jfscsi.mount.MountActor;
import io.jfscsi.mount.NodeGuardian;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;

/**
 * Reads the clients of this node through the actors' own messages: the guardian lists its mount
 * actors, each describes itself. A client that does not answer within the timeout (busy with a long
 * blocking call, or stopping just then) is left out of that answer.
 */
public final class ClientViews {
  private ClientViews() {}

  /** How long the guardian and each mount actor may take to answer. */
  public static final Duration ASK_TIMEOUT = Duration.ofSeconds(3);

  /** Every client of the node, ordered by volume id and key; empty without the node role. */
  public static CompletionStage<List<ClientView>> fetch(
      ActorRef<NodeGuardian.Command> guardian, Scheduler scheduler) {
    return described(guardian, scheduler)
        .thenApply(clients -> clients.stream().flatMap(c -> c.view().stream()).toList());
  }

  /** A mount actor and what it said of itself; empty when it did not answer in time. */
  public record Described(ActorRef<MountActor.Command> actor, Optional<ClientView> view) {
    /** The Mount Pod (or process) of the client, else its actor's name. */
    public String name() {
      return view.flatMap(ClientView::handle)
          .orElseGet(() -> view.map(ClientView::key).orElse(actor.path().name()));
    }
  }

  /**
   * Every mount actor of the node with what it said of itself, ordered as {@link #fetch}, those
   * that did not answer last.
   */
  public static CompletionStage<List<Described>> described(
      ActorRef<NodeGuardian.Command> guardian, Scheduler scheduler) {
    if (guardian == null) {
      return CompletableFuture.completedFuture(List.of());
    }
    return Asks.<NodeGuardian.Command, List<ActorRef<MountActor.Command>>>ask(
            guardian, NodeGuardian.ListClients::new, ASK_TIMEOUT, scheduler)
        .thenCompose(
            refs -> {
              List<CompletableFuture<Described>> answers = new ArrayList<>();
              for (ActorRef<MountActor.Command> ref : refs) {
                answers.add(
                    Asks.<MountActor.Command, ClientView>ask(
                            ref, MountActor.Describe::new, ASK_TIMEOUT, scheduler)
                        .thenApply(view -> new Described(ref, Optional.of(view)))
                        .exceptionally(e -> new Described(ref, Optional.empty()))
                        .toCompletableFuture());
              }
              return CompletableFuture.allOf(answers.toArray(CompletableFuture[]::new))
                  .thenApply(
                      done ->
                          answers.stream()
                              .map(CompletableFuture::join)
                              .sorted(
                                  Comparator.comparing((Described d) -> d.view().isEmpty())
                                      .thenComparing(
                                          d -> d.view().map(ClientView::volumeId).orElse(""))
                                      .thenComparing(d -> d.view().map(ClientView::key).orElse("")))
                              .toList());
            });
  }

  /** The message of the failure under the wrappers futures add. */
  static String message(Throwable error) {
    Throwable cause = Failure.unwrap(error);
    return cause.getMessage() == null ? cause.getClass().getSimpleName() : cause.getMessage();
  }
}

package io.jfscsi.mount;

import java.util.List;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/** A node guardian that only lists clients, for tests of what asks it (management, upgrades). */
public final class ListingGuardian {
  private ListingGuardian() {}

  /** Answers every {@link NodeGuardian.ListClients} with what {@code clients} gives then. */
  public static Behavior<NodeGuardian.Command> of(
      Supplier<List<ActorRef<MountActor.Command>>> clients) {
    return Behaviors.receive(NodeGuardian.Command.class)
        .onMessage(
            NodeGuardian.ListClients.class,
            l -> {
              l.replyTo().tell(List.copyOf(clients.get()));
              return Behaviors.same();
            })
        .build();
  }
}

package io.jfscsi.mount;

import io.jfscsi.client.ClientKey;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * The guardian's side of the idle handshake: the clients it told to stop, and the calls for each
 * that wait until the actor is gone (then they go to a fresh one) or taken back (then to it), so
 * that they keep their order. A plain object owned by the {@link NodeGuardian}.
 */
final class StoppingClients {

  /** A client told to stop, and the calls for it that wait. */
  record Stopping(ActorRef<MountActor.Command> actor, List<NodeGuardian.Command> waiting) {}

  private final Map<ClientKey, Stopping> stopping = new HashMap<>();

  /** Tells the actor of {@code key} to stop; calls for it wait from now on. */
  void stop(ClientKey key, ActorRef<MountActor.Command> actor) {
    stopping.put(key, new Stopping(actor, new ArrayList<>()));
    actor.tell(new MountActor.Stop());
  }

  /** Holds {@code call} if the client of {@code key} is stopping: whether it did. */
  boolean hold(ClientKey key, NodeGuardian.Command call) {
    Stopping s = stopping.get(key);
    if (s != null) {
      s.waiting().add(call);
    }
    return s != null;
  }

  /**
   * Holds {@code call} for {@code target} behind the stopping client it must wait behind to keep
   * its order: the one it is routed to ({@code routed}, null if none), or one that holds a publish
   * of it (such a publish has no route yet). Whether it did.
   */
  boolean holdBehind(ClientKey routed, Path target, NodeGuardian.Command call) {
    if (routed != null) {
      return hold(routed, call);
    }
    for (Stopping s : stopping.values()) {
      if (s.waiting().stream()
          .anyMatch(c -> c instanceof NodeGuardian.Publish p && p.target().equals(target))) {
        s.waiting().add(call);
        return true;
      }
    }
    return false;
  }

  /** The client of {@code key} is gone or was taken back: what was stopping, if it was. */
  Optional<Stopping> end(ClientKey key) {
    return Optional.ofNullable(stopping.remove(key));
  }
}

package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientKey;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The guardian's routing table: which client a target goes to, for which volume (in a share mode a
 * client serves several), and how many publishes and unpublishes of it the client's actor has not
 * answered yet. Only the answer to the last of them may release the route, so a {@link
 * MountActor.TargetHeld} report that crosses newer calls for the same target never loses them. A
 * plain object owned by the {@link NodeGuardian} and called only from its mailbox.
 */
final class Routes {

  /**
   * Where a target is routed, the volume published there, and how many calls for it the actor has
   * not answered yet.
   */
  private record Route(ClientKey key, String volumeId, int inFlight) {}

  private final Map<Path, Route> routes = new HashMap<>();

  /** The client {@code target} is routed to, or null. */
  ClientKey keyOf(Path target) {
    Route route = routes.get(target);
    return route == null ? null : route.key();
  }

  /** The volume published at {@code target}, or null when it is not routed. */
  String volumeOf(Path target) {
    Route route = routes.get(target);
    return route == null ? null : route.volumeId();
  }

  /** A target an earlier driver recorded for {@code volumeId} on {@code key}: held, no call. */
  /**
   * Why {@code target} cannot be published for {@code volumeId} through the client {@code key}: it
   * is routed to another volume, or to this volume with other settings; empty if it is free or
   * routed the same way (an idempotent repeat).
   */
  Optional<Failure> takenByAnother(Path target, ClientKey key, String volumeId) {
    Route r = routes.get(target);
    if (r == null || (r.key().equals(key) && r.volumeId().equals(volumeId))) {
      return Optional.empty();
    }
    String taken =
        "target " + Quoted.path(target) + " is already published for volume " + r.volumeId();
    return Optional.of(
        Failure.alreadyExists(
            r.volumeId().equals(volumeId)
                ? taken
                    + " with other settings (secret, mount options or volume attributes changed);"
                    + " unpublish it first"
                : taken));
  }

  void recorded(Path target, ClientKey key, String volumeId) {
    routes.put(target, new Route(key, volumeId, 0));
  }

  /**
   * Counts a publish or unpublish of {@code volumeId} sent to the actor of {@code key} for {@code
   * target}.
   */
  void sent(Path target, ClientKey key, String volumeId) {
    Route route = routes.get(target);
    routes.put(target, new Route(key, volumeId, route == null ? 1 : route.inFlight() + 1));
  }

  /** Settles a route by the actor's report of whether it holds the target now. */
  void settle(MountActor.TargetHeld held) {
    Route route = routes.get(held.target());
    if (route == null || !route.key().equals(held.key())) {
      return; // the client was replaced since: its routes were dropped with it
    }
    int inFlight = held.answer() ? Math.max(0, route.inFlight() - 1) : route.inFlight();
    if (inFlight == 0 && !held.held()) {
      routes.remove(held.target());
    } else {
      // Held, or a newer call is on its way: that call's answer settles the route.
      routes.put(held.target(), new Route(route.key(), route.volumeId(), inFlight));
    }
  }

  /** Drops every route to {@code key}: its actor is gone. */
  void dropClient(ClientKey key) {
    routes.values().removeIf(r -> r.key().equals(key));
  }
}

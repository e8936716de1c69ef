package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.RunningClient;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.ClientDied;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Stats;
import io.jfscsi.mount.MountActor.Upgrade;
import io.jfscsi.mount.MountActor.UpgradeEnded;
import java.util.Optional;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;

/**
 * A serving client being replaced by the runtime's smooth upgrade ({@link
 * io.jfscsi.client.MountRuntime#upgrade}). The targets stay bound throughout (the kernel mount
 * outlives the old client); publishes and unpublishes wait, so that none is recorded on a pod that
 * is going. A refusal changes nothing and the client serves on; a failed takeover leaves no client,
 * and the actor recovers as after a crash: a new client, every target bound again.
 */
final class ClientUpgrading {
  private ClientUpgrading() {}

  static Behavior<Command> begin(ClientLife life, ClientServing.Serving serving, Upgrade upgrade) {
    RunningClient client = serving.client();
    life.log()
        .info(
            "volume {}: client {} of {} is being upgraded",
            life.key.volumeId(),
            life.key,
            client.handle());
    var self = life.ctx.getSelf();
    life.ctx.pipeToSelf(
        life.runtime.upgrade(client, life.volume, exit -> self.tell(new ClientDied(exit))),
        (next, error) ->
            new UpgradeEnded(
                upgrade, client, Optional.ofNullable(next), Optional.ofNullable(error)));
    return upgrading(life, serving);
  }

  private static Behavior<Command> upgrading(ClientLife life, ClientServing.Serving serving) {
    return Behaviors.receiveMessage(
        command ->
            switch (command) {
              case AddTarget add -> {
                life.waiting.stash(add);
                yield Behaviors.same();
              }
              case RemoveTarget remove -> {
                life.waiting.stash(remove);
                yield Behaviors.same();
              }
              case Stats stats -> {
                life.stats(stats, false);
                yield Behaviors.same();
              }
              case ClientDied died -> {
                // The old pod goes on purpose; the new one is watched once the upgrade ends.
                if (!ClientStarting.sameClient(serving.client(), died)) {
                  life.waiting.stash(died);
                }
                yield Behaviors.same();
              }
              case UpgradeEnded ended -> ended(life, serving, ended);
              default ->
                  life.otherwise(
                      command, Shown.of(ClientState.READY, Optional.of(serving.client())));
            });
  }

  private static Behavior<Command> ended(
      ClientLife life, ClientServing.Serving serving, UpgradeEnded ended) {
    if (ended.next().isPresent()) {
      RunningClient next = ended.next().get();
      life.saveStarted(next);
      life.enter(
          ClientState.READY,
          "client "
              + next.handle()
              + " took over the FUSE connection of "
              + ended.previous().handle());
      ended
          .upgrade()
          .replyTo()
          .tell(
              StatusReply.success(
                  "Mount Pod "
                      + ended.previous().handle()
                      + " was replaced by "
                      + next.handle()
                      + ", which serves the same FUSE connection at "
                      + next.mountPath()
                      + "; "
                      + life.targets.names().size()
                      + " targets untouched"));
      return life.waiting.unstashAll(
          ClientServing.ready(life, ClientServing.Serving.started(life, next)));
    }
    Throwable cause = Failure.unwrap(ended.failure().orElseThrow());
    ended.upgrade().replyTo().tell(StatusReply.error(cause));
    if (cause instanceof Failure f && f.code() == Failure.Code.FAILED_PRECONDITION) {
      life.log().warn("volume {}: {}", life.key.volumeId(), cause.getMessage());
      return life.waiting.unstashAll(ClientServing.ready(life, serving));
    }
    life.log().error("volume {}: {}", life.key.volumeId(), cause.getMessage());
    return life.waiting.unstashAll(
        ClientStarting.start(
            life,
            Optional.empty(),
            Optional.of(serving.client()),
            Optional.of(life.now()),
            "the upgrade failed: " + cause.getMessage()));
  }
}

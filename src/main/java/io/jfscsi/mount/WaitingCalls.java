package io.jfscsi.mount;

import io.jfscsi.Failure;
import io.jfscsi.client.StartProgress;
import io.jfscsi.mount.ClientLife.Shown;
import io.jfscsi.mount.MountActor.AddTarget;
import io.jfscsi.mount.MountActor.AnswerDue;
import io.jfscsi.mount.MountActor.Command;
import io.jfscsi.mount.MountActor.RemoveTarget;
import io.jfscsi.mount.MountActor.Stats;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.Predicate;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.StashBuffer;
import org.apache.pekko.pattern.StatusReply;

/**
 * The calls a {@link MountActor} keeps until its client can serve them: publishes (and the
 * unpublishes that must not overtake them) in its stash, in order, each publish with its answer
 * deadline, answered early when the client's start is stuck or failed. Replayed by the state that
 * has a client again.
 */
final class WaitingCalls {

  private final ClientLife life;
  private final StashBuffer<Command> stash;

  WaitingCalls(ClientLife life, StashBuffer<Command> stash) {
    this.life = life;
    this.stash = stash;
  }

  void stash(Command command) {
    stash.stash(command);
  }

  boolean isEmpty() {
    return stash.isEmpty();
  }

  /** Replays the waiting calls, in order, through {@code next}. */
  Behavior<Command> unstashAll(Behavior<Command> next) {
    return stash.unstashAll(next);
  }

  /** Whether a publish of the unpublish's target waits: the unpublish must not overtake it. */
  boolean publishWaits(RemoveTarget remove) {
    return stash.anyMatch(c -> c instanceof AddTarget a && a.target().equals(remove.target()));
  }

  /**
   * A publish waits for the client, but not past the answer deadline (kubelet gives up at 120 s and
   * would show only "context deadline exceeded"), and not at all while the start is stuck on
   * something that does not fix itself soon. Its deadline counts from its first wait: a publish
   * stashed again after a failed restart keeps it.
   */
  void await(AddTarget add, Optional<StartProgress> starting) {
    Optional<StartProgress> stuck = starting.filter(StartProgress::stuck);
    if (stuck.isPresent()) {
      answerEarly(add, stuckFailure(stuck.get()));
      return;
    }
    stash.stash(add);
    if (!life.timers.isTimerActive(add)) {
      life.timers.startSingleTimer(add, new AnswerDue(add), life.settings.answerDeadline());
    }
  }

  void answerDue(AddTarget add, Shown shown) {
    if (!take(add::equals).isEmpty()) {
      answerEarly(
          add,
          new Failure(
              Failure.Code.DEADLINE_EXCEEDED,
              "volume "
                  + life.key.volumeId()
                  + " is not ready after "
                  + life.settings.answerDeadline().toSeconds()
                  + " s: "
                  + waitingOn(shown)
                  + ". The client's start goes on, and the retry waits for the same one"));
    }
  }

  Failure stuckFailure(StartProgress stuck) {
    return new Failure(
        Failure.Code.UNAVAILABLE,
        "volume "
            + life.key.volumeId()
            + " cannot be served until this is fixed: "
            + stuck.description()
            + ". The client's "
            + "start goes on, and the retry waits for the same one");
  }

  /** What the client that a publish waits for is doing, for that publish's answer. */
  private String waitingOn(Shown shown) {
    return switch (shown.state()) {
      case STARTING, RESTARTING ->
          shown.progress().map(StartProgress::description).orElse("its client is still starting");
      case BROKEN ->
          "its client died ("
              + life.lastError.orElse("no reason known")
              + ") and is restarted after a backoff";
      default -> "its client is " + shown.state().name().toLowerCase(Locale.ROOT);
    };
  }

  /** Answers a waiting publish before the client is ready; it holds no reference. */
  void answerEarly(AddTarget add, Failure failure) {
    life.retryExpected = true;
    life.log()
        .info(
            "volume {}: publish at {} answered before its client is ready: {}",
            life.key.volumeId(),
            add.target(),
            failure.getMessage());
    life.answerHeld(add.target());
    add.replyTo().tell(StatusReply.error(failure));
  }

  /** Removes the waiting commands that match, keeping the order of the others. */
  List<Command> take(Predicate<Command> which) {
    List<Command> taken = new ArrayList<>();
    List<Command> kept = new ArrayList<>();
    stash.forEach(c -> (which.test(c) ? taken : kept).add(c));
    if (!taken.isEmpty()) {
      stash.clear();
      kept.forEach(stash::stash);
    }
    return taken;
  }

  /** Fails every waiting call: the client they wait for will not come. */
  void failAll(Failure failure) {
    stash.forEach(
        c -> {
          switch (c) {
            case AddTarget a -> {
              life.answerHeld(a.target());
              a.replyTo().tell(StatusReply.<Done>error(failure));
            }
            case RemoveTarget r -> {
              life.answerHeld(r.target());
              r.replyTo().tell(StatusReply.ack());
            }
            case Stats s -> s.replyTo().tell(StatusReply.error(failure));
            default -> {}
          }
        });
    stash.clear();
  }

  /** Fails the waiting publishes of targets not held; the rest wait for the next start. */
  void failPublishes(Failure failure) {
    for (Command c : take(c -> c instanceof AddTarget a && !life.targets.holds(a.target()))) {
      AddTarget a = (AddTarget) c;
      life.answerHeld(a.target());
      a.replyTo().tell(StatusReply.error(failure));
    }
  }
}

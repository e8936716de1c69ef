package io.jfscsi.testing;

import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.host.ContainerRecovery;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;

/**
 * Container recovery for actor simulations: records every call, and answers with the outcomes
 * queued by the test (none by default: no container held a dead copy).
 */
public final class FakeContainerRecovery implements ContainerRecovery {

  /** One call: which volume, from where, for which targets. */
  public record Call(String volumeId, Path source, Set<Path> targets) {}

  private final Queue<Call> calls = new ConcurrentLinkedQueue<>();
  private final Queue<List<ContainerOutcome>> answers = new ConcurrentLinkedQueue<>();

  /** The next calls answer these outcomes, one list per call, in order. */
  @SafeVarargs
  public final void answer(List<ContainerOutcome>... outcomes) {
    answers.addAll(List.of(outcomes));
  }

  /** Every call so far, oldest first. */
  public List<Call> calls() {
    return List.copyOf(new ArrayDeque<>(calls));
  }

  @Override
  public List<ContainerOutcome> recover(String volumeId, Path source, Set<Path> targets) {
    calls.add(new Call(volumeId, source, Set.copyOf(targets)));
    List<ContainerOutcome> next = answers.poll();
    return next == null ? List.of() : next;
  }
}

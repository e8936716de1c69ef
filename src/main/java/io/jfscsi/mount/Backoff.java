package io.jfscsi.mount;

import java.time.Duration;

/**
 * A delay that doubles with each try up to a ceiling, and the number of tries so far: the restart
 * of a dead client and the retries of a container recovery that failed both wait this way.
 *
 * @param delay what the next try waits
 * @param tries how many tries were scheduled so far
 */
record Backoff(Duration min, Duration max, Duration delay, int tries) {

  static Backoff between(Duration min, Duration max) {
    return new Backoff(min, max, min, 0);
  }

  /** After a try is scheduled with {@link #delay}: the next one waits twice as long. */
  Backoff next() {
    Duration doubled = delay.multipliedBy(2);
    return new Backoff(min, max, doubled.compareTo(max) > 0 ? max : doubled, tries + 1);
  }

  /**
   * A client that crashes soon after each restart keeps doubling its delay; one that ran at least
   * {@code resetAfter} was not in a crash loop and starts over from the shortest. Tries still
   * count.
   */
  Backoff afterRunning(Duration ran, Duration resetAfter) {
    return ran.compareTo(resetAfter) >= 0 ? new Backoff(min, max, min, tries) : this;
  }
}

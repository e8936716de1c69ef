package io.jfscsi.host;

import java.time.Duration;

/**
 * Signals to a whole process group. A client runs under setsid, so it leads a group of its own that
 * holds everything it started (helpers, the filter of its output): stopping only its first process
 * would leave the rest running.
 */
public final class ProcessGroups {
  private ProcessGroups() {}

  private static final int SIGKILL = 9;
  private static final int ESRCH = 3;

  /** SIGKILL to every process of group {@code pgid}; nothing when the group is empty. */
  public static void kill(long pgid) {
    requireGroup(pgid);
    Libc.kill((int) -pgid, SIGKILL);
  }

  /** Whether any process (a zombie too) is left in group {@code pgid}. */
  public static boolean alive(long pgid) {
    requireGroup(pgid);
    return Libc.kill((int) -pgid, 0) != ESRCH;
  }

  /** Waits up to {@code timeout} for the group to empty by itself; true if it did. */
  public static boolean awaitEmpty(long pgid, Duration timeout) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (alive(pgid)) {
      if (System.nanoTime() - deadline > 0) {
        return false;
      }
      try {
        Thread.sleep(10);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return true;
  }

  /** Group 0 and 1 would be our own group and init's: never a client's. */
  private static void requireGroup(long pgid) {
    if (pgid <= 1 || pgid > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("not a client's process group: " + pgid);
    }
  }
}

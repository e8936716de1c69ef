package io.jfscsi.testing;

import ch.qos.logback.core.read.ListAppender;
import java.util.List;

/** Reading what a logback {@link ListAppender} caught while other threads still log. */
public final class Logs {
  private Logs() {}

  /**
   * The events caught so far. The appender adds under its own monitor ({@code
   * AppenderBase.doAppend} is synchronized), so a copy taken under it never meets a half-done add:
   * iterating {@code list} directly races with logging threads.
   */
  public static <E> List<E> snapshot(ListAppender<E> appender) {
    synchronized (appender) {
      return List.copyOf(appender.list);
    }
  }
}

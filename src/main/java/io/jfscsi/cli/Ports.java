package io.jfscsi.cli;

import com.typesafe.config.Config;
import io.jfscsi.Driver;

/** The real host ports for a driver started from the command line. */
public final class Ports {
  private Ports() {}

  public static Driver.Ports real(Config config) {
    throw new UnsupportedOperationException("wired when LinuxMounter and LocalProcessRuntime land");
  }
}

package io.jfscsi.testing;

import com.typesafe.config.Config;
import io.jfscsi.Driver;

/** The real host ports, as the command line builds them. */
public final class RealPorts {
  private RealPorts() {}

  public static Driver.Ports of(Config config) {
    return io.jfscsi.cli.Ports.real(config);
  }
}

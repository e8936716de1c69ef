package io.jfscsi.cli;

import com.typesafe.config.Config;
import io.jfscsi.Driver;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.runtime.LocalProcessRuntime;
import io.jfscsi.runtime.LocalRuntimeConfig;

/** The real host ports for a driver: kernel mounts, and clients as local processes. */
public final class Ports {
  private Ports() {}

  public static Driver.Ports real(Config config) {
    LinuxMounter mounter = new LinuxMounter();
    LocalRuntimeConfig runtime = LocalRuntimeConfig.from(config.getConfig("jfs-csi"));
    return new Driver.Ports(new LocalProcessRuntime(runtime, mounter), mounter);
  }
}

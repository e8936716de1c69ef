package io.jfscsi.cli;

import com.typesafe.config.Config;
import io.jfscsi.Driver;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.runtime.LocalProcessRuntime;
import io.jfscsi.runtime.LocalRuntimeConfig;

/** The real host ports for a driver: kernel mounts, and clients as local processes. */
public final class Ports {
  private Ports() {}

  public static Driver.Ports real(Config config) {
    LocalRuntimeConfig runtime = LocalRuntimeConfig.from(config.getConfig("jfs-csi"));
    // Container recoveries are counted in the driver's metrics (pod Events: cluster mode).
    DriverMetrics metrics = new DriverMetrics();
    LinuxMounter mounter = new LinuxMounter(LinuxMounter.DEFAULT_TIMEOUT, ContainerRecovery
        .installedIn(runtime.stateDir().resolve("bin"), metrics));
    return new Driver.Ports(new LocalProcessRuntime(runtime, mounter), mounter, metrics);
  }
}

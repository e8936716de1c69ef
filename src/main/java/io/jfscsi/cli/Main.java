package io.jfscsi.cli;

import io.jfscsi.Driver;
import io.jfscsi.doctor.DoctorCommand;
import io.jfscsi.warmup.WarmupCommand;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The single entry point of the jar: the driver itself and a kubelet-like client for it. */
@Command(
    name = "jfs-csi",
    mixinStandardHelpOptions = true,
    versionProvider = Main.Version.class,
    description = "JuiceFS CSI driver on Apache Pekko typed actors.",
    subcommands = {
      ServeCommand.class,
      ClientCommands.CreateVolume.class,
      ClientCommands.DeleteVolume.class,
      ClientCommands.Publish.class,
      ClientCommands.Unpublish.class,
      ClientCommands.Stats.class,
      ClientCommands.Probe.class,
      BenchJar.class,
      DoctorCommand.class,
      WarmupCommand.class,
      ClusterCommands.Volumes.class,
      ClusterCommands.MountPods.class,
      UpgradeCommand.class,
      CommandLine.HelpCommand.class
    })
public final class Main implements Runnable {

  @CommandLine.Spec CommandLine.Model.CommandSpec spec;

  public static void main(String[] args) {
    int code = commandLine().execute(args);
    if (code != 0 || args.length == 0 || !"serve".equals(args[0])) {
      System.exit(code);
    }
  }

  public static CommandLine commandLine() {
    return new CommandLine(new Main())
        .setCaseInsensitiveEnumValuesAllowed(true)
        .setExecutionExceptionHandler(
            (e, cmd, parsed) -> {
              cmd.getErr().println(cmd.getColorScheme().errorText(e.getMessage()));
              return 1;
            });
  }

  @Override
  public void run() {
    spec.commandLine().usage(System.out);
  }

  static final class Version implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
      return new String[] {"jfs-csi " + Driver.version()};
    }
  }
}

package io.jfscsi.bench;

import picocli.CommandLine;

/**
 * The bench's entry point: the main class of {@code jfs-csi-bench.jar}, and what {@code jfs-csi
 * bench} hands over to when that jar lies beside the driver's. The bench and its second CSI plugin
 * ({@link BarePlugin}) live in the test tree, so the driver's jar does not carry them.
 */
public final class BenchMain {
  private BenchMain() {}

  public static void main(String[] args) {
    System.exit(run(args));
  }

  /**
   * Runs {@code jfs-csi bench} with {@code args} (its options and subcommands) and its exit code.
   */
  public static int run(String... args) {
    return commandLine().execute(args);
  }

  static CommandLine commandLine() {
    return new CommandLine(new BenchCommand())
        .setCaseInsensitiveEnumValuesAllowed(true)
        .setExecutionExceptionHandler(
            (e, cmd, parsed) -> {
              cmd.getErr().println(cmd.getColorScheme().errorText(e.getMessage()));
              return 1;
            });
  }
}

package io.jfscsi.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

class BenchJarTest {

  @Test
  void everyArgumentAfterBenchIsHandedOverInOrder() {
    CommandLine.ParseResult parsed =
        Main.commandLine()
            .parseArgs("bench", "--volumes", "2", "recovery", "--targets", "5", "--help");

    BenchJar command = parsed.subcommand().commandSpec().commandLine().getCommand();
    assertThat(command.args)
        .containsExactly("--volumes", "2", "recovery", "--targets", "5", "--help");
  }
}

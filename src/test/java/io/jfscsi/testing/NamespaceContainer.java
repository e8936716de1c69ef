package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A stand-in for a container: a shell in a mount namespace of its own ({@code unshare -m}),
 * made after the publish so it holds its own copy of the mounts. With propagation
 * {@code private} it is a container whose volume mount has no HostToContainer propagation; with
 * {@code slave} one that has it (given that the host side of the mount is shared).
 *
 * <p>Its loop opens a file on the volume afresh each round, writes the round's number, reads it
 * back and reads {@code before}, and writes {@code ok N} or {@code fail N} to a status file outside
 * the volume, so the test sees from outside whether the container can use its volume.
 */
public final class NamespaceContainer implements AutoCloseable {
  public final String name;
  public final Path volume;
  private final Path status;
  private final Process process;

  private NamespaceContainer(String name, Path volume, Path status, Process process) {
    this.name = name;
    this.volume = volume;
    this.status = status;
    this.process = process;
  }

  /**
   * Starts a container. {@code setup} runs inside its namespace first (e.g. binding the target
   * to the path the container uses, as a container runtime does); the loop works on
   * {@code volume}, its status goes to {@code statusDir/name}.
   */
  public static NamespaceContainer start(String name, String propagation, Path volume,
                                         Path statusDir, String setup) throws IOException {
    Path status = statusDir.resolve(name);
    String script = "set -e\n" + setup + "\nset +e\n"
        + "V='" + volume + "'; S='" + status + "'; i=0\n"
        + "while :; do\n"
        + "  i=$((i+1))\n"
        + "  if echo \"$i\" > \"$V/probe-" + name + "\" 2>/dev/null"
        + " && [ \"$(cat \"$V/probe-" + name + "\" 2>/dev/null)\" = \"$i\" ]"
        + " && [ -n \"$(cat \"$V/before\" 2>/dev/null)\" ]; then s=ok; else s=fail; fi\n"
        + "  echo \"$s $i\" > \"$S.tmp\"; mv \"$S.tmp\" \"$S\"\n"
        + "  sleep 0.05\n"
        + "done\n";
    Process p = new ProcessBuilder("unshare", "-m", "--propagation", propagation, "sh", "-c",
        script).redirectErrorStream(true)
        .redirectOutput(statusDir.resolve(name + ".log").toFile()).start();
    NamespaceContainer c = new NamespaceContainer(name, volume, status, p);
    Awaitility.await().atMost(Duration.ofSeconds(10)).pollInterval(Duration.ofMillis(20))
        .untilAsserted(() -> {
          assertThat(p.isAlive()).as("container %s runs (see %s.log)", name, name).isTrue();
          assertThat(c.ok()).as("container %s works on its volume", name).isTrue();
        });
    return c;
  }

  public long pid() {
    return process.pid();
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The last status line, e.g. {@code ok 17}; empty before the first round. */
  public Optional<String> status() {
    try {
      return Optional.of(Files.readString(status).strip());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  public boolean ok() {
    return status().map(s -> s.startsWith("ok ")).orElse(false);
  }

  /** Runs a command inside the container's mount namespace and returns its output. */
  public String inside(String... command) throws IOException, InterruptedException {
    List<String> full = new java.util.ArrayList<>(List.of("nsenter", "-t", Long.toString(pid()),
        "-m"));
    full.addAll(List.of(command));
    Process p = new ProcessBuilder(full).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", full, out).isZero();
    return out;
  }

  @Override
  public void close() throws InterruptedException {
    process.descendants().forEach(ProcessHandle::destroyForcibly);
    process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
  }
}

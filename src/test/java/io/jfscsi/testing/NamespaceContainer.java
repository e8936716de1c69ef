package io.jfscsi.testing;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;

/**
 * A container as far as mounts and processes are concerned, made the way runc makes one: a mount
 * namespace AND a PID namespace of its own, its whole tree a slave of the host's, a root file
 * system of its own (a tmpfs with the host's /usr bound in) entered with pivot_root, its own /proc,
 * and the volume's target bound at {@value #VOLUME} with the propagation the pod asked for: {@link
 * Propagation#PRIVATE} (no mountPropagation) or {@link Propagation#HOST_TO_CONTAINER}. Its
 * processes start in the pod's cgroup ({@code pod<uid>}), as kubelet places them.
 *
 * <p>What a bare {@code unshare -m} leaves out, and this has: inside, /proc belongs to the
 * container's PID namespace (a helper that enters the mount namespace has no pid there); the
 * kubelet tree is out of sight (the only copy of the volume is the bind at {@value #VOLUME}, so
 * HostToContainer receives only what is mounted on that bind itself).
 *
 * <p>Its loop opens a file on the volume afresh each round, writes the round's number, reads it
 * back and reads {@code before}, and writes {@code ok N} or {@code fail N} to /status in its own
 * root, which the test reads through /proc/PID/root.
 */
public final class NamespaceContainer implements AutoCloseable {
  public static final String VOLUME = "/data";

  /** A volume mount's mountPropagation, as runc applies it to the bind. */
  public enum Propagation {
    PRIVATE("--make-rprivate"),
    HOST_TO_CONTAINER("--make-rslave");

    final String mountFlag;

    Propagation(String mountFlag) {
      this.mountFlag = mountFlag;
    }
  }

  public final String name;
  public final Path volume = Path.of(VOLUME);
  private final Process process;
  private final long init;
  private final List<Path> cgroups;

  private NamespaceContainer(String name, Process process, long init, List<Path> cgroups) {
    this.name = name;
    this.process = process;
    this.init = init;
    this.cgroups = cgroups;
  }

  /**
   * Starts a container of pod {@code podUid} (empty: a process of no pod) whose volume is the
   * host's {@code target}. {@code workDir} holds its scripts, log and the directory its root is
   * mounted on.
   */
  public static NamespaceContainer start(
      String name, Propagation propagation, Path target, Optional<String> podUid, Path workDir)
      throws IOException {
    Path root = Files.createDirectories(workDir.resolve(name + "-root"));
    List<Path> cgroups = podUid.isPresent() ? PodCgroups.create(podUid.get()) : List.of();
    String inner =
        String.join(
            "\n",
            "set -e",
            "R='" + root + "'",
            "mount -t tmpfs -o mode=0755 container-rootfs \"$R\"",
            "mkdir -p \"$R/usr\" \"$R/dev\" \"$R/proc\" \"$R/tmp\" \"$R/.old\" \"$R"
                + VOLUME
                + "\"",
            "for l in bin lib lib64 sbin; do ln -s usr/$l \"$R/$l\"; done",
            "mount --rbind /usr \"$R/usr\"",
            "touch \"$R/dev/null\" && mount --bind /dev/null \"$R/dev/null\"",
            "mount --rbind '" + target + "' \"$R" + VOLUME + "\"",
            "mount " + propagation.mountFlag + " \"$R" + VOLUME + "\"",
            "cd \"$R\" && pivot_root . .old && umount -l /.old && rmdir /.old",
            "mount -t proc proc /proc",
            "i=0",
            "while :; do",
            "  i=$((i+1))",
            "  if echo \"$i\" > "
                + VOLUME
                + "/probe-"
                + name
                + " 2>/dev/null"
                + " && [ \"$(cat "
                + VOLUME
                + "/probe-"
                + name
                + " 2>/dev/null)\" = \"$i\" ]"
                + " && [ -n \"$(cat "
                + VOLUME
                + "/before 2>/dev/null)\" ]; then s=ok; else s=fail; fi",
            "  echo \"$s $i\" > /status.tmp; mv /status.tmp /status",
            "  sleep 0.05",
            "done",
            "");
    Path script = workDir.resolve(name + ".sh");
    Files.writeString(script, inner);
    // Into the pod's cgroup first, so that every process of the container is in it.
    String enter =
        cgroups.isEmpty()
            ? ""
            : "echo $$ > '" + cgroups.getLast().resolve("cgroup.procs") + "' && ";
    Process p =
        new ProcessBuilder(
                "sh",
                "-c",
                enter + "exec unshare -m --propagation slave -p" + " --fork sh '" + script + "'")
            .redirectErrorStream(true)
            .redirectOutput(workDir.resolve(name + ".log").toFile())
            .start();
    long init =
        Awaitility.await()
            .atMost(Duration.ofSeconds(10))
            .pollInterval(Duration.ofMillis(10))
            .until(
                () ->
                    ProcessHandle.of(p.pid())
                        .flatMap(h -> h.children().findFirst())
                        .map(ProcessHandle::pid)
                        .orElse(-1L),
                pid -> pid > 0 || !p.isAlive());
    NamespaceContainer c = new NamespaceContainer(name, p, init, cgroups);
    Awaitility.await()
        .atMost(Duration.ofSeconds(10))
        .pollInterval(Duration.ofMillis(20))
        .untilAsserted(
            () -> {
              assertThat(p.isAlive()).as("container %s runs (see %s.log)", name, name).isTrue();
              assertThat(c.ok()).as("container %s works on its volume", name).isTrue();
            });
    return c;
  }

  /** The host pid of the container's first process (pid 1 inside). */
  public long pid() {
    return init;
  }

  public boolean isAlive() {
    return process.isAlive();
  }

  /** The last status line, e.g. {@code ok 17}; empty before the first round. */
  public Optional<String> status() {
    try {
      return Optional.of(
          Files.readString(Path.of("/proc", Long.toString(init), "root", "status")).strip());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  public boolean ok() {
    return status().map(s -> s.startsWith("ok ")).orElse(false);
  }

  /** Runs a command inside the container (its mount and PID namespaces) and returns its output. */
  public String inside(String... command) throws IOException, InterruptedException {
    List<String> full = new ArrayList<>(List.of("nsenter", "-t", Long.toString(init), "-m", "-p"));
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
    PodCgroups.remove(cgroups);
  }
}

package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.host.StaleCopies.StaleCopy;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The helper's refusals, and the Java side's: a target the driver holds no reference for is refused
 * before the helper runs; a namespace that does not hold the target is refused by the helper itself
 * (exit 3) and, earlier, by the Java side.
 */
class NsBindHelperTest {
  static final Duration TIMEOUT = Duration.ofSeconds(5);

  @TempDir Path dir;

  final List<Process> containers = new ArrayList<>();

  @AfterEach
  void stopContainers() throws InterruptedException {
    for (Process p : containers) {
      p.destroyForcibly().waitFor(5, TimeUnit.SECONDS);
    }
  }

  /** A process in a private mount namespace of its own, as a container without propagation. */
  Process container() throws IOException {
    Process p =
        new ProcessBuilder("unshare", "-m", "--propagation", "private", "sleep", "60")
            .redirectErrorStream(true)
            .start();
    containers.add(p);
    // unshare execs sleep in place: the pid is the container's once its namespace differs.
    long own = MountNamespaces.inodeOf(Path.of("/proc/self"));
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .until(() -> MountNamespaces.inodeOf(Path.of("/proc", Long.toString(p.pid()))) != own);
    return p;
  }

  NsBindHelper helper() throws IOException {
    return NsBindHelper.install(dir.resolve("bin"));
  }

  @Test
  void theHelperIsInstalledFromTheClassPathOwnerOnlyAndOnce() throws IOException {
    NsBindHelper first = helper();
    long modified = Files.getLastModifiedTime(first.binary()).toMillis();

    NsBindHelper second = helper();

    assertThat(second.binary()).isEqualTo(dir.resolve("bin").resolve("jfs-nsbind"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(second.binary())))
        .isEqualTo("rwx------");
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("bin"))))
        .isEqualTo("rwx------");
    assertThat(Files.getLastModifiedTime(second.binary()).toMillis()).isEqualTo(modified);
  }

  @Test
  void theHelperRefusesAnythingButExactlyAPidASourceAndATarget() throws IOException {
    NsBindHelper helper = helper();

    for (List<String> args :
        List.of(List.<String>of(), List.of("1", "/a"), List.of("1", "/a", "/b", "/c"))) {
      List<String> command = new ArrayList<>(List.of(helper.binary().toString()));
      command.addAll(args);
      Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
      assertThat(waitFor(p)).as("exit code for %s", args).isEqualTo(NsBindHelper.USAGE);
    }
    assertThat(helper.run(-3, dir, dir.resolve("t"), TIMEOUT).exitCode())
        .isEqualTo(NsBindHelper.USAGE);
    assertThat(helper.run(1, Path.of("relative"), dir.resolve("t"), TIMEOUT).exitCode())
        .isEqualTo(NsBindHelper.USAGE);
    assertThat(helper.run(1, dir, Path.of("/"), TIMEOUT).exitCode()).isEqualTo(NsBindHelper.USAGE);
  }

  @Test
  void theHelperRefusesANamespaceThatDoesNotHoldTheTarget() throws Exception {
    HostRequirements.requireRoot();
    NsBindHelper helper = helper();
    Path source = Files.createDirectories(dir.resolve("source"));
    Path target = Files.createDirectories(dir.resolve("target"));
    Files.writeString(target.resolve("kept"), "the container's own directory");
    Process container = container();

    NsBindHelper.Result result = helper.run(container.pid(), source, target, TIMEOUT);

    assertThat(result.exitCode()).isEqualTo(NsBindHelper.NOT_A_MOUNT_POINT);
    assertThat(result.message()).contains("refused", "not a mount point", target.toString());
    assertThat(MountInfo.ofProcess(container.pid())).noneMatch(e -> e.mountPoint().equals(target));
    assertThat(target.resolve("kept")).hasContent("the container's own directory");
  }

  @Test
  void theHelperRefusesATargetReachedThroughASymbolicLink() throws Exception {
    HostRequirements.requireRoot();
    NsBindHelper helper = helper();
    Path source = Files.createDirectories(dir.resolve("source"));
    Path real = Files.createDirectories(dir.resolve("real").resolve("target"));
    Path link = Files.createSymbolicLink(dir.resolve("link"), dir.resolve("real"));
    Process container = container();
    run(
        "nsenter",
        "-t",
        Long.toString(container.pid()),
        "-m",
        "mount",
        "-t",
        "tmpfs",
        "t",
        real.toString());

    NsBindHelper.Result result =
        helper.run(container.pid(), source, link.resolve("target"), TIMEOUT);

    assertThat(result.exitCode()).isEqualTo(NsBindHelper.NOT_A_MOUNT_POINT);
    assertThat(result.message()).contains("not its own real path");
    assertThat(MountInfo.ofProcess(container.pid()))
        .filteredOn(e -> e.mountPoint().equals(real))
        .singleElement()
        .satisfies(e -> assertThat(e.fsType()).isEqualTo("tmpfs"));
  }

  @Test
  void theHelperNamesAProcessThatIsGoneAndASourceThatIsMissing() throws Exception {
    HostRequirements.requireRoot();
    NsBindHelper helper = helper();
    Process container = container();

    assertThat(helper.run(Integer.MAX_VALUE, dir, dir.resolve("t"), TIMEOUT).exitCode())
        .isEqualTo(NsBindHelper.NO_NAMESPACE);
    assertThat(helper.run(container.pid(), dir.resolve("missing"), dir.resolve("t"), TIMEOUT))
        .satisfies(
            r -> {
              assertThat(r.exitCode()).isEqualTo(NsBindHelper.NO_SOURCE);
              assertThat(r.message()).contains("No such file or directory");
            });
  }

  @Test
  void theHelperReplacesAMountInsideThePrivateNamespaceKeepingItReadOnly() throws Exception {
    HostRequirements.requireRoot();
    NsBindHelper helper = helper();
    Path fresh = Files.createDirectories(dir.resolve("fresh"));
    Files.writeString(fresh.resolve("file"), "fresh");
    Path target = Files.createDirectories(dir.resolve("target"));
    Process container = container();
    String pid = Long.toString(container.pid());
    run(
        "nsenter",
        "-t",
        pid,
        "-m",
        "mount",
        "-t",
        "tmpfs",
        "-o",
        "ro,nosuid",
        "old",
        target.toString());

    NsBindHelper.Result result = helper.run(container.pid(), fresh, target, TIMEOUT);

    assertThat(result.exitCode()).as(result.message()).isEqualTo(NsBindHelper.OK);
    assertThat(MountInfo.ofProcess(container.pid()))
        .filteredOn(e -> e.mountPoint().equals(target))
        .singleElement()
        .satisfies(
            e -> {
              assertThat(e.fsType()).isNotEqualTo("tmpfs");
              assertThat(e.options()).contains("ro", "nosuid");
            });
    assertThat(output("nsenter", "-t", pid, "-m", "cat", target.resolve("file").toString()))
        .isEqualTo("fresh");
    // Nothing changed on the host.
    assertThat(MountInfo.self()).noneMatch(e -> e.mountPoint().startsWith(dir));
  }

  /**
   * On a node the fresh source (the Mount Pod's mount path, a bind of it at the target) is a shared
   * mount; its clone would be a peer of it, and the container's volume would then get, and give the
   * host, every mount beneath it: a private copy stays private.
   */
  @Test
  void aPrivateCopyStaysPrivateWhenTheFreshSourceIsShared() throws Exception {
    HostRequirements.requireRoot();
    NsBindHelper helper = helper();
    Path fresh = Files.createDirectories(dir.resolve("fresh"));
    Files.createDirectories(fresh.resolve("sub"));
    Path target = Files.createDirectories(dir.resolve("target"));
    Process container = container();
    String pid = Long.toString(container.pid());
    run("nsenter", "-t", pid, "-m", "mount", "-t", "tmpfs", "old", target.toString());
    run("mount", "--bind", fresh.toString(), fresh.toString());
    try {
      run("mount", "--make-shared", fresh.toString());

      NsBindHelper.Result result = helper.run(container.pid(), fresh, target, TIMEOUT);
      assertThat(result.exitCode()).as(result.message()).isEqualTo(NsBindHelper.OK);
      run("mount", "-t", "tmpfs", "later", fresh.resolve("sub").toString());

      assertThat(MountInfo.ofProcess(container.pid()))
          .filteredOn(e -> e.mountPoint().equals(target))
          .singleElement()
          .satisfies(e -> assertThat(e.propagation()).as("propagation").isEmpty());
      assertThat(MountInfo.ofProcess(container.pid()))
          .as("a mount made on the host later does not reach the container")
          .noneMatch(e -> e.mountPoint().startsWith(target.resolve("sub")));
    } finally {
      new ProcessBuilder("umount", "-R", fresh.toString()).start().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void theJavaSideRefusesATargetWithoutAReferenceBeforeRunningTheHelper() {
    // A helper that cannot run: had it been asked, the reason would say so.
    NamespaceRecovery recovery =
        new NamespaceRecovery(
            new NsBindHelper(dir.resolve("absent")), ContainerRecoveryListener.NONE, TIMEOUT);
    Path target = dir.resolve("pods/p/volumes/kubernetes.io~csi/pv/mount");
    StaleCopy unreferenced =
        new StaleCopy(
            1, ProcessHandle.current().pid(), Optional.of(target), target, dir, Optional.empty());
    StaleCopy nobodys =
        new StaleCopy(
            1,
            ProcessHandle.current().pid(),
            Optional.empty(),
            Path.of("/data"),
            dir,
            Optional.empty());

    ContainerOutcome refused = recovery.repair("pv", Set.of(dir.resolve("other")), unreferenced);
    ContainerOutcome alsoRefused = recovery.repair("pv", Set.of(target), nobodys);

    assertThat(refused.recovered()).isFalse();
    assertThat(refused.reason()).startsWith("refused: the driver holds no reference for " + target);
    assertThat(alsoRefused.recovered()).isFalse();
    assertThat(alsoRefused.reason()).startsWith("refused: it is a copy of no target");
  }

  @Test
  void theJavaSideRefusesANamespaceThatNoLongerHoldsTheTarget() throws Exception {
    HostRequirements.requireRoot();
    NamespaceRecovery recovery =
        new NamespaceRecovery(
            new NsBindHelper(dir.resolve("absent")), ContainerRecoveryListener.NONE, TIMEOUT);
    Process container = container();
    long namespace = MountNamespaces.inodeOf(Path.of("/proc", Long.toString(container.pid())));
    Path target = dir.resolve("target");
    List<ContainerOutcome> told = new ArrayList<>();
    NamespaceRecovery listened =
        new NamespaceRecovery(new NsBindHelper(dir.resolve("absent")), told::add, TIMEOUT);

    ContainerOutcome notHeld =
        listened.repair(
            "pv",
            Set.of(target),
            new StaleCopy(
                namespace, container.pid(), Optional.of(target), target, dir, Optional.empty()));
    ContainerOutcome wrongNamespace =
        recovery.repair(
            "pv",
            Set.of(target),
            new StaleCopy(
                namespace + 1,
                container.pid(),
                Optional.of(target),
                target,
                dir,
                Optional.empty()));

    // Not a refusal for safety: a later scan finds the copy again if it is still somewhere.
    assertThat(notHeld.reason())
        .isEqualTo("not tried: mount namespace " + namespace + " no longer holds " + target);
    assertThat(notHeld.retriable()).isTrue();
    assertThat(told).containsExactly(notHeld);
    assertThat(wrongNamespace.reason()).contains("is no longer in mount namespace");
  }

  static int waitFor(Process p) {
    try {
      assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
      return p.exitValue();
    } catch (InterruptedException e) {
      throw new AssertionError(e);
    }
  }

  static void run(String... command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(waitFor(p)).as("%s: %s", String.join(" ", command), out).isZero();
  }

  static String output(String... command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(waitFor(p)).as("%s: %s", String.join(" ", command), out).isZero();
    return out;
  }
}

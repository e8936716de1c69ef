package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.Trials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Symlink games against the real mounter, on a real FUSE volume and a real kubelet-like root:
 * whatever a volume's writer or a racer under the kubelet root plants, a bind lands only on the
 * target beneath the kubelet root and shows only the volume's own directory.
 */
class BindBeneathTest {
  @TempDir Path tempDir;

  private final LinuxMounter mounter = new LinuxMounter();
  private MountSandbox sandbox;
  private Path volume;
  private Path backing;
  private Path kubelet;
  private Path host;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    sandbox = new MountSandbox(tempDir);
    backing = sandbox.dir("backing");
    volume = sandbox.dir("client");
    kubelet = sandbox.dir("kubelet");
    host = sandbox.dir("host");
    Files.writeString(host.resolve("secret"), "host file");
    Files.createDirectories(backing.resolve("data"));
    Files.writeString(backing.resolve("data/inside"), "volume file");
    sandbox.startBindfs(backing, volume);
  }

  @AfterEach
  void tearDown() throws Exception {
    if (sandbox != null) {
      sandbox.close();
    }
  }

  @Test
  void aSubPathIsBoundAndItsMissingDirectoriesAreMadeInsideTheVolume() throws Exception {
    Path target = target("pod-1");

    mounter.bind(new PathBeneath(volume, "data/a/b"), PathBeneath.of(kubelet, target), false, true);

    assertThat(backing.resolve("data/a/b")).isDirectory();
    Files.writeString(target.resolve("through"), "x");
    assertThat(backing.resolve("data/a/b/through")).hasContent("x");
    assertThat(mounter.entryAt(target).orElseThrow().root()).isEqualTo("/data/a/b");
  }

  @Test
  void aReadOnlyBindIsReadOnlyAndKeepsTheSourceRestrictions() throws Exception {
    Path tmpfs = sandbox.dir("tmpfs");
    sandbox.mountTmpfs(tmpfs, "size=1m,nosuid,nodev,noexec");
    Files.createDirectories(tmpfs.resolve("sub"));
    Path target = target("pod-ro");

    mounter.bind(new PathBeneath(tmpfs, "sub"), PathBeneath.of(kubelet, target), true, false);

    MountEntry entry = mounter.entryAt(target).orElseThrow();
    assertThat(entry.options().split(",")).contains("ro", "nosuid", "nodev", "noexec");
    assertThatThrownBy(() -> Files.writeString(target.resolve("new"), "x"))
        .isInstanceOf(FileSystemException.class)
        .hasMessageContaining("Read-only");
  }

  @Test
  void aSymlinkInTheVolumeToTheHostsEtcIsRefusedAndNothingIsMadeThere() throws Exception {
    Files.createSymbolicLink(backing.resolve("etc"), Path.of("/etc"));
    Path target = target("pod-etc");

    for (String subPath : List.of("etc", "etc/jfs-csi-must-not-exist", "etc/ssl")) {
      assertThatThrownBy(
              () ->
                  mounter.bind(
                      new PathBeneath(volume, subPath),
                      PathBeneath.of(kubelet, target),
                      false,
                      true))
          .isInstanceOfSatisfying(
              MountException.class,
              e -> {
                assertThat(e.refused()).as(e.getMessage()).isTrue();
                assertThat(e.getMessage()).contains("symbolic link");
              });
    }
    assertThat(Path.of("/etc/jfs-csi-must-not-exist")).doesNotExist();
    assertThat(mounter.isMountPoint(target)).isFalse();
  }

  @Test
  void dotDotIsRefusedRatherThanResolved() {
    Path target = target("pod-dots");
    assertThatThrownBy(
            () ->
                mounter.bind(
                    new PathBeneath(volume, "data/../../host"),
                    PathBeneath.of(kubelet, target),
                    false,
                    true))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.refused()).isTrue());
    assertThat(mounter.isMountPoint(target)).isFalse();
  }

  /**
   * Random symlinks at random depths of a random subPath, pointing out of the volume in every
   * spelling (absolute, relative, to a file, to a dangling name): the bind is refused, nothing is
   * mounted, nothing is created outside the volume.
   */
  @Test
  void aSymlinkAnywhereOnTheWayIsRefused() {
    List<String> escapes =
        List.of(
            host.toString(),
            "../../../../../../../../",
            host.resolve("secret").toString(),
            "/etc",
            "../" + "x".repeat(3),
            "/proc/self/root",
            "/nonexistent-jfs-csi");
    AtomicInteger round = new AtomicInteger();
    Trials.run(
        "a symlink anywhere on the way",
        40,
        random -> {
          try {
            int n = round.incrementAndGet();
            int depth = 1 + random.nextInt(4);
            int linkAt = random.nextInt(depth);
            List<String> names = new ArrayList<>();
            for (int i = 0; i < depth; i++) {
              names.add("t" + n + "-" + i);
            }
            Path dir = backing;
            for (int i = 0; i < linkAt; i++) {
              dir = Files.createDirectories(dir.resolve(names.get(i)));
            }
            Files.createSymbolicLink(
                dir.resolve(names.get(linkAt)), Path.of(Trials.pick(random, escapes)));
            Path target = target("pod-t" + n);
            boolean readOnly = random.nextBoolean();
            boolean create = random.nextBoolean();
            try {
              mounter.bind(
                  new PathBeneath(volume, String.join("/", names)),
                  PathBeneath.of(kubelet, target),
                  readOnly,
                  create);
              throw new AssertionError("bound " + names + " through a symlink");
            } catch (MountException e) {
              assertThat(e.refused() || e.notFound()).as(e.getMessage()).isTrue();
            }
            assertThat(sandbox.mountsUnderRoot())
                .extracting(MountEntry::mountPoint)
                .containsExactly(volume);
            try (var left = Files.list(host)) {
              assertThat(left.map(p -> p.getFileName().toString())).containsExactly("secret");
            }
          } catch (Exception e) {
            throw new RuntimeException(e);
          }
        });
  }

  @Test
  void aTargetWhoseParentIsASymlinkOutOfTheKubeletRootIsRefused() throws Exception {
    Path pods = Files.createDirectories(kubelet.resolve("pods"));
    Files.createSymbolicLink(pods.resolve("pod-link"), host);
    Path target = pods.resolve("pod-link").resolve("mount");

    assertThatThrownBy(() -> mounter.createTarget(PathBeneath.of(kubelet, target)))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.refused()).isTrue());
    Files.createDirectory(host.resolve("mount"));
    assertThatThrownBy(
            () ->
                mounter.bind(
                    new PathBeneath(volume, "data"), PathBeneath.of(kubelet, target), false, false))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.refused()).isTrue());
    assertThat(mounter.isMountPoint(host.resolve("mount"))).isFalse();
  }

  /**
   * A racer swaps the pod directory between a real directory and a symlink to the host, and the
   * volume's sub-directory between a real one and a symlink to the host, as fast as it can, while
   * binds run. Every bind that succeeds is at the real target and shows the volume's file; none
   * ever lands in, or shows, the host directory.
   */
  @Test
  void aConcurrentSwapLoopNeverSendsABindOutside() throws Exception {
    Path pods = Files.createDirectories(kubelet.resolve("pods"));
    Path realPod = Files.createDirectories(kubelet.resolve("real-pod"));
    Files.createDirectories(realPod.resolve("mount"));
    Files.createDirectories(host.resolve("mount"));
    Path podLink = kubelet.resolve("pod-link");
    Files.createSymbolicLink(podLink, host);
    Path pod = pods.resolve("pod");
    Path hostData = Files.createDirectories(host.resolve("data"));
    Files.writeString(hostData.resolve("outside"), "host file");
    Path volumeLink = backing.resolve("data-link");
    Files.createSymbolicLink(volumeLink, hostData);
    Path realData = backing.resolve("data");
    Path spareData = backing.resolve("data-real");

    AtomicBoolean racing = new AtomicBoolean(true);
    AtomicInteger swaps = new AtomicInteger();
    Thread racer =
        Thread.ofPlatform()
            .start(
                () -> {
                  try {
                    Files.move(realPod, pod, StandardCopyOption.ATOMIC_MOVE);
                    while (racing.get()) {
                      // rename(2) over the name: at every instant it is the real directory or a
                      // symlink.
                      Files.move(pod, realPod, StandardCopyOption.ATOMIC_MOVE);
                      Files.copy(podLink, pod, LinkOption.NOFOLLOW_LINKS);
                      Files.move(realData, spareData, StandardCopyOption.ATOMIC_MOVE);
                      Files.copy(volumeLink, realData, LinkOption.NOFOLLOW_LINKS);
                      Thread.onSpinWait();
                      Files.delete(pod);
                      Files.move(realPod, pod, StandardCopyOption.ATOMIC_MOVE);
                      Files.delete(realData);
                      Files.move(spareData, realData, StandardCopyOption.ATOMIC_MOVE);
                      swaps.incrementAndGet();
                    }
                  } catch (Exception e) {
                    throw new RuntimeException(e);
                  }
                });
    int bound = 0;
    int refused = 0;
    long until = System.nanoTime() + 4_000_000_000L;
    try {
      while (System.nanoTime() < until) {
        Path target = pod.resolve("mount");
        try {
          mounter.bind(
              new PathBeneath(volume, "data"), PathBeneath.of(kubelet, target), false, false);
          bound++;
        } catch (MountException e) {
          assertThat(e.refused() || e.notFound()).as(e.getMessage()).isTrue();
          refused++;
        }
        for (MountEntry m : sandbox.mountsUnderRoot()) {
          assertThat(m.mountPoint())
              .as("a bind landed outside the kubelet root")
              .isIn(volume, kubelet.resolve("pods/pod/mount"), kubelet.resolve("real-pod/mount"));
          assertThat(m.root()).as("a bind of the host directory").doesNotContain("host");
        }
        // Unmount every layer, wherever the pod directory is at this instant.
        for (MountEntry m : sandbox.mountsUnderRoot()) {
          if (!m.mountPoint().equals(volume)) {
            Libc.umount2(m.mountPoint(), Libc.MNT_DETACH); // renamed since? the next round
          }
        }
      }
    } finally {
      racing.set(false);
      racer.join();
    }
    System.out.printf("swap loop: %d binds, %d refused, %d swaps%n", bound, refused, swaps.get());
    assertThat(bound).as("some binds won the race").isPositive();
    assertThat(swaps.get()).as("the racer ran").isPositive();
    assertThat(mounter.isMountPoint(host.resolve("mount"))).isFalse();
    try (var left = Files.list(host)) {
      assertThat(left.map(p -> p.getFileName().toString()))
          .containsExactlyInAnyOrder("secret", "mount", "data");
    }
  }

  @Test
  void removeTreeRemovesSymlinksAndNeverWhatTheyPointAt() throws Exception {
    Path tree = Files.createDirectories(backing.resolve("pvc-1/a/b"));
    Files.writeString(tree.resolve("f"), "x");
    Files.createSymbolicLink(tree.resolve("to-host"), host);
    Files.createSymbolicLink(backing.resolve("pvc-1/a/etc"), Path.of("/etc"));
    Files.createSymbolicLink(backing.resolve("pvc-link"), host);

    Beneath.removeTree(new PathBeneath(volume, "pvc-1"));
    assertThatThrownBy(() -> Beneath.removeTree(new PathBeneath(volume, "pvc-link/secret")))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.refused()).isTrue());
    Beneath.removeTree(new PathBeneath(volume, "pvc-link"));

    assertThat(backing.resolve("pvc-1")).doesNotExist();
    assertThat(backing.resolve("pvc-link")).doesNotExist();
    assertThat(host.resolve("secret")).hasContent("host file");
    assertThat(Path.of("/etc/hostname")).exists();
  }

  private Path target(String pod) {
    try {
      return Files.createDirectories(kubelet.resolve("pods").resolve(pod).resolve("mount"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}

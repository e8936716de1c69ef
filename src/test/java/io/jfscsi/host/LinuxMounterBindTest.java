package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.testing.HostRequirements;
import java.io.InputStream;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real bind mounts and unmounts under a temporary directory; needs root. */
class LinuxMounterBindTest {
  @TempDir Path tempDir;

  private final LinuxMounter mounter = new LinuxMounter();
  private MountSandbox sandbox;
  private Path source;
  private Path target;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireRoot();
    sandbox = new MountSandbox(tempDir);
    source = sandbox.dir("source");
    target = sandbox.dir("target");
    Files.writeString(source.resolve("hello.txt"), "hello");
  }

  @AfterEach
  void tearDown() throws Exception {
    if (sandbox != null) {
      sandbox.close();
    }
  }

  @Test
  void bindMakesTheSourceFilesVisibleAtTheTarget() throws Exception {
    mounter.bind(source, target, false);

    assertThat(target.resolve("hello.txt")).hasContent("hello");
    assertThat(mounter.isMountPoint(target)).isTrue();
    Files.writeString(target.resolve("back.txt"), "written through the bind");
    assertThat(source.resolve("back.txt")).hasContent("written through the bind");
  }

  @Test
  void readOnlyBindRefusesWritesWhileTheSourceStaysWritable() throws Exception {
    mounter.bind(source, target, true);

    assertThat(target.resolve("hello.txt")).hasContent("hello");
    assertThatThrownBy(() -> Files.writeString(target.resolve("new.txt"), "x"))
        .isInstanceOf(FileSystemException.class)
        .hasMessageContaining("Read-only file system");
    Files.writeString(source.resolve("new.txt"), "still writable");
    assertThat(target.resolve("new.txt")).hasContent("still writable");
    assertThat(mounter.entryAt(target)).get().matches(MountEntry::readOnly, "is read-only");
  }

  @Test
  void readOnlyBindKeepsTheSourceMountsNosuidNodevAndNoexec() throws Exception {
    Path tmpfs = sandbox.dir("tmpfs");
    sandbox.mountTmpfs(tmpfs, "size=1m,nosuid,nodev,noexec");
    Path sub = Files.createDirectories(tmpfs.resolve("sub"));

    mounter.bind(sub, target, true);

    MountEntry entry = mounter.entryAt(target).orElseThrow();
    assertThat(entry.options().split(",")).contains("ro", "nosuid", "nodev", "noexec");
    assertThat(entry.root()).isEqualTo("/sub");
    assertThat(entry.fsType()).isEqualTo("tmpfs");
  }

  @Test
  void bindOfAMissingSourceFailsWithEnoentNamingBothPaths() {
    Path missing = tempDir.resolve("missing");

    assertThatThrownBy(() -> mounter.bind(missing, target, false))
        .isInstanceOfSatisfying(MountException.class, e -> assertThat(e.errno()).isEqualTo(2))
        .hasMessageContaining(missing.toString())
        .hasMessageContaining(target.toString())
        .hasMessageContaining("No such file or directory");
    assertThat(mounter.isMountPoint(target)).isFalse();
  }

  @Test
  void unmountRemovesTheBind() throws Exception {
    mounter.bind(source, target, false);

    mounter.unmount(target);

    assertThat(mounter.isMountPoint(target)).isFalse();
    assertThat(target).isEmptyDirectory();
    assertThat(source.resolve("hello.txt")).hasContent("hello");
  }

  @Test
  void unmountOfADirectoryThatIsNotAMountPointIsANoOp() throws Exception {
    mounter.unmount(target);
    mounter.unmount(tempDir.resolve("does-not-exist"));

    assertThat(target).isEmptyDirectory();
  }

  @Test
  void unmountRemovesEveryStackedBind() throws Exception {
    Path second = sandbox.dir("second");
    Path third = sandbox.dir("third");
    mounter.bind(source, target, false);
    mounter.bind(second, target, true);
    mounter.bind(third, target, false);
    assertThat(sandbox.mountsUnderRoot()).filteredOn(e -> e.mountPoint().equals(target)).hasSize(3);
    assertThat(mounter.entryAt(target))
        .get()
        .extracting(MountEntry::root)
        .isEqualTo(third.toString());

    mounter.unmount(target);

    assertThat(sandbox.mountsUnderRoot()).isEmpty();
  }

  @Test
  void unmountDetachesABindThatIsStillInUse() throws Exception {
    mounter.bind(source, target, false);

    try (InputStream open = Files.newInputStream(target.resolve("hello.txt"))) {
      mounter.unmount(target);

      assertThat(mounter.isMountPoint(target)).isFalse();
      assertThat(new String(open.readAllBytes())).isEqualTo("hello");
    }
  }

  @Test
  void aSymlinkedParentDirectoryStillFindsTheMount() throws Exception {
    Path link = Files.createSymbolicLink(tempDir.resolve("link"), sandbox.root());
    mounter.bind(source, target, false);

    assertThat(mounter.isMountPoint(link.resolve("target"))).isTrue();
    assertThat(mounter.isMountPoint(link.resolve("source"))).isFalse();
  }
}

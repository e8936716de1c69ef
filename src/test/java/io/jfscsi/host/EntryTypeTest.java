package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The type of what a path names, and that finding it out never waits on a hung FUSE client. */
class EntryTypeTest {
  @TempDir Path tempDir;

  @Test
  void eachKindOfEntry() throws Exception {
    Path dir = Files.createDirectory(tempDir.resolve("dir"));
    Path file = Files.writeString(tempDir.resolve("file"), "x");
    Path link = Files.createSymbolicLink(tempDir.resolve("link"), dir);
    Path dangling = Files.createSymbolicLink(tempDir.resolve("dangling"), tempDir.resolve("no"));

    assertThat(EntryType.of(dir)).isEqualTo(EntryType.DIRECTORY);
    assertThat(EntryType.of(file)).isEqualTo(EntryType.OTHER);
    assertThat(EntryType.of(link))
        .as("a link to a directory is a link")
        .isEqualTo(EntryType.SYMLINK);
    assertThat(EntryType.of(dangling)).isEqualTo(EntryType.SYMLINK);
    assertThat(EntryType.of(tempDir.resolve("nothing"))).isEqualTo(EntryType.MISSING);
    assertThat(EntryType.of(file.resolve("below-a-file"))).isEqualTo(EntryType.MISSING);
  }

  @Test
  void aStoppedFuseClientDoesNotBlockIt() throws Exception {
    HostRequirements.requireRoot();
    HostRequirements.requireFuse();
    MountSandbox sandbox = new MountSandbox(tempDir);
    try {
      Path source = sandbox.dir("source");
      Files.createDirectories(source.resolve("sub"));
      Path fuse = sandbox.dir("fuse");
      Path target = sandbox.dir("target");
      Process client = sandbox.startBindfs(source, fuse);
      new LinuxMounter().bind(fuse.resolve("sub"), target, false);
      sandbox.signal(client, "STOP");
      Thread.sleep(1_100); // past FUSE's default attribute timeout of one second

      // A plain stat now waits for the stopped client...
      CompletableFuture<Boolean> plain =
          CompletableFuture.supplyAsync(
              () -> Files.isDirectory(target), r -> Thread.ofPlatform().daemon().start(r));
      Thread.sleep(300);
      assertThat(plain)
          .as("a plain stat of the target should hang on the stopped client")
          .isNotDone();

      // ...but the entry type comes from the kernel's cache at once.
      CompletableFuture<EntryType> typed =
          CompletableFuture.supplyAsync(
              () -> EntryType.of(target), r -> Thread.ofPlatform().daemon().start(r));
      assertThat(typed.get(2, TimeUnit.SECONDS)).isEqualTo(EntryType.DIRECTORY);
      assertThat(EntryType.of(fuse)).isEqualTo(EntryType.DIRECTORY);

      sandbox.signal(client, "CONT");
      assertThat(plain.get(5, TimeUnit.SECONDS)).isTrue();
    } finally {
      sandbox.close();
    }
  }
}

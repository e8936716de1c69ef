package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.host.MountNamespaces.Namespace;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** One entry per namespace, read through its lowest live pid, never our own. */
class MountNamespacesTest {
  @TempDir Path proc;

  void process(String pid, long namespace, String mountinfo) throws IOException {
    Path dir = Files.createDirectories(proc.resolve(pid).resolve("ns"));
    Files.createSymbolicLink(dir.resolve("mnt"), Path.of("mnt:[" + namespace + "]"));
    if (mountinfo != null) {
      Files.writeString(proc.resolve(pid).resolve("mountinfo"), mountinfo);
      Files.writeString(proc.resolve(pid).resolve("cgroup"), "0::/pid-" + pid + "\n");
    }
  }

  @Test
  void oneEntryPerNamespaceThroughItsLowestReadablePidAndNotOurOwn() throws IOException {
    String table = "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n";
    process("self", 1, null);
    process("1", 1, table);
    process("30", 7, table);
    process("12", 7, table);
    process("9", 5, null); // exited between the listing and the read: its mountinfo is gone
    process("40", 5, table);
    Files.createDirectories(proc.resolve("sys"));

    List<Namespace> found = MountNamespaces.others(proc);

    assertThat(found).extracting(Namespace::inode).containsExactly(5L, 7L);
    assertThat(found).extracting(Namespace::pid).containsExactly(40L, 12L);
    assertThat(found.get(1).cgroup()).isEqualTo("0::/pid-12\n");
    assertThat(found.get(1).mounts()).hasSize(1);
  }

  @Test
  void theRealProcListsOurOwnNamespaceNowhere() {
    long own = MountNamespaces.inodeOf(Path.of("/proc/self"));

    assertThat(own).isPositive();
    assertThat(MountNamespaces.others()).extracting(Namespace::inode).doesNotContain(own);
  }
}

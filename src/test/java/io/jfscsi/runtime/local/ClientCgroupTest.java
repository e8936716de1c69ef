package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.MountInfo;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.TestVolumes;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Real bindfs clients in real cgroups (v1 or v2, whichever the host mounts), as root. */
class ClientCgroupTest {
  static final long MI = 1024 * 1024;
  static final ClientResources LIMITS =
      new ClientResources(
          Optional.empty(), Optional.of(500L), Optional.empty(), Optional.of(64 * MI));

  @TempDir Path base;
  Path data;
  LocalRuntimeConfig config;
  CgroupHierarchy cpu;
  CgroupHierarchy memory;
  final List<ClientKey> keys = new ArrayList<>();

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    cpu = CgroupHierarchy.find(MountInfo.self(), "cpu").orElse(null);
    memory = CgroupHierarchy.find(MountInfo.self(), "memory").orElse(null);
    HostRequirements.require(
        cpu != null && memory != null && writable(cpu) && writable(memory),
        "writable cgroup hierarchies with the cpu and memory controllers (found cpu "
            + cpu
            + ", memory "
            + memory
            + ")");
    data = Files.createDirectory(base.resolve("data"));
    config =
        LocalRuntimeConfig.under(base)
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10));
  }

  @AfterEach
  void cleanUp() throws Exception {
    HostCleanup.killAndUnmountUnder(base);
    for (ClientKey key : keys) {
      HostCleanup.removeCgroups(key);
    }
    assertThat(HostCleanup.mountsUnder(base)).as("mounts left behind").isEmpty();
  }

  @Test
  void clientWithLimitsRunsInItsCgroupWithThoseValues() throws Exception {
    LocalProcessRuntime rt = new LocalProcessRuntime(config, new LinuxMounter());
    VolumeSettings s = volume(LIMITS);
    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();
    long pid = Long.parseLong(client.handle());
    ClientKey key = client.key();

    assertInCgroup(pid, key);
    if (memory.unified()) {
      assertThat(read(memory, key, "memory.max")).isEqualTo(Long.toString(64 * MI));
      assertThat(read(cpu, key, "cpu.max")).isEqualTo("50000 100000");
    } else {
      assertThat(read(memory, key, "memory.limit_in_bytes")).isEqualTo(Long.toString(64 * MI));
      assertThat(read(cpu, key, "cpu.cfs_period_us")).isEqualTo("100000");
      assertThat(read(cpu, key, "cpu.cfs_quota_us")).isEqualTo("50000");
    }
    Files.writeString(client.mountPath().resolve("x"), "limited but working");
    assertThat(data.resolve("x")).hasContent("limited but working");

    rt.stop(client).toCompletableFuture().join();
    assertThat(ProcInfo.isRunning(pid)).isFalse();
    assertThat(memory.dirOf(key)).doesNotExist();
    assertThat(cpu.dirOf(key)).doesNotExist();
    assertThat(memory.mountPoint().resolve(ClientCgroup.PARENT))
        .as("the shared parent stays")
        .isDirectory();
  }

  @Test
  void clientWithoutResourcesGetsNoCgroup() throws Exception {
    LocalProcessRuntime rt = new LocalProcessRuntime(config, new LinuxMounter());
    VolumeSettings s = volume(ClientResources.NONE);
    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();

    assertThat(memory.dirOf(client.key())).doesNotExist();
    assertThat(cpu.dirOf(client.key())).doesNotExist();
    assertThat(Files.readString(Path.of("/proc", client.handle(), "cgroup")))
        .doesNotContain(ClientCgroup.PARENT + "/");
    rt.stop(client).toCompletableFuture().join();
  }

  @Test
  void requestsBecomeSharesOrWeightAndTheSoftLimitOrLow() throws Exception {
    ClientResources r =
        new ClientResources(
            Optional.of(250L), Optional.empty(), Optional.of(32 * MI), Optional.empty());
    LocalProcessRuntime rt = new LocalProcessRuntime(config, new LinuxMounter());
    VolumeSettings s = volume(r);
    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();

    assertInCgroup(Long.parseLong(client.handle()), client.key());
    if (memory.unified()) {
      assertThat(read(cpu, client.key(), "cpu.weight"))
          .isEqualTo("10"); // 1 + (254 * 9999) / 262142
      assertThat(read(memory, client.key(), "memory.low")).isEqualTo(Long.toString(32 * MI));
    } else {
      assertThat(read(cpu, client.key(), "cpu.shares")).isEqualTo("256");
      assertThat(read(memory, client.key(), "memory.soft_limit_in_bytes"))
          .isEqualTo(Long.toString(32 * MI));
    }
    rt.stop(client).toCompletableFuture().join();
    assertThat(memory.dirOf(client.key())).doesNotExist();
  }

  @Test
  void adoptedClientKeepsItsCgroupAndIsPutBackWhenItLeftIt() throws Exception {
    VolumeSettings s = volume(LIMITS);
    RunningClient client =
        new LocalProcessRuntime(config, new LinuxMounter())
            .start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {})
            .toCompletableFuture()
            .join();
    long pid = Long.parseLong(client.handle());
    assertInCgroup(pid, client.key());

    // A new driver adopts the client: same pid, same cgroup, values intact.
    LocalProcessRuntime second = new LocalProcessRuntime(config, new LinuxMounter());
    assertThat(
            second
                .start(client.key(), s, Optional.of(client), e -> {})
                .toCompletableFuture()
                .join())
        .isEqualTo(client);
    assertInCgroup(pid, client.key());
    assertThat(
            read(memory, client.key(), memory.unified() ? "memory.max" : "memory.limit_in_bytes"))
        .isEqualTo(Long.toString(64 * MI));

    // Someone moved it out (to the hierarchy's root): the next adoption puts it back.
    Files.writeString(memory.mountPoint().resolve("cgroup.procs"), Long.toString(pid));
    assertThat(Files.readString(memory.dirOf(client.key()).resolve("cgroup.procs")))
        .doesNotContain(Long.toString(pid));
    LocalProcessRuntime third = new LocalProcessRuntime(config, new LinuxMounter());
    assertThat(
            third.start(client.key(), s, Optional.of(client), e -> {}).toCompletableFuture().join())
        .isEqualTo(client);
    assertInCgroup(pid, client.key());

    third.stop(client).toCompletableFuture().join();
    assertThat(memory.dirOf(client.key())).doesNotExist();
    assertThat(cpu.dirOf(client.key())).doesNotExist();
  }

  @Test
  void clientThatFailsToStartLeavesNoCgroup() throws Exception {
    Path fake = base.resolve("bin").resolve("bindfs");
    Files.createDirectories(fake.getParent());
    Files.writeString(fake, "#!/bin/sh\nsleep 0.3\necho 'fuse: bad option' >&2\nexit 3\n");
    Files.setPosixFilePermissions(fake, PosixFilePermissions.fromString("rwx------"));
    LocalProcessRuntime rt =
        new LocalProcessRuntime(config.withBindfsBinary(fake), new LinuxMounter());
    VolumeSettings s = volume(LIMITS);
    try {
      rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();
      throw new AssertionError("expected the start to fail");
    } catch (CompletionException e) {
      assertThat(e.getCause()).hasMessageContaining("status 3");
    }
    assertThat(memory.dirOf(TestVolumes.keyOf(s))).doesNotExist();
    assertThat(cpu.dirOf(TestVolumes.keyOf(s))).doesNotExist();
  }

  /** A local volume with a random id, so that runs on one host never share a cgroup. */
  private VolumeSettings volume(ClientResources r) {
    String id = "cg-" + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextInt());
    VolumeSettings s = TestVolumes.withResources(TestVolumes.local(id, data), r);
    keys.add(TestVolumes.keyOf(s));
    return s;
  }

  private void assertInCgroup(long pid, ClientKey key) throws Exception {
    List<String> lines = Files.readAllLines(Path.of("/proc", Long.toString(pid), "cgroup"));
    for (CgroupHierarchy h : List.of(cpu, memory)) {
      assertThat(lines)
          .as("/proc/%d/cgroup in the %s hierarchy", pid, h.controller())
          .anyMatch(l -> h.ownsLine(l) && l.endsWith(":" + h.procPathOf(key)));
      assertThat(h.procPathOf(key)).endsWith("/jfs-csi/" + key.name());
      assertThat(Files.readAllLines(h.dirOf(key).resolve("cgroup.procs")))
          .contains(Long.toString(pid));
    }
  }

  private static String read(CgroupHierarchy h, ClientKey key, String file) throws Exception {
    return Files.readString(h.dirOf(key).resolve(file)).trim();
  }

  /** Whether a cgroup can be made here: the only reason to skip these tests. */
  private static boolean writable(CgroupHierarchy h) {
    Path probe = h.mountPoint().resolve("jfs-csi-probe-" + ProcessHandle.current().pid());
    try {
      Files.createDirectory(probe);
      Files.delete(probe);
      return true;
    } catch (IOException e) {
      System.err.println("cannot make a cgroup in " + h.mountPoint() + ": " + e);
      return false;
    }
  }
}

package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.jfscsi.client.ClientKey;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountInfo;
import io.jfscsi.juicefs.ClientResources;
import io.jfscsi.testing.Logs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Values, hierarchy discovery and the v2 file layout without the kernel: this host has cgroup v1,
 * so the v2 layout is checked against a directory that stands in for a cgroup2 mount.
 */
class CgroupLimitsTest {
  static final long MI = 1024 * 1024;
  static final ClientKey KEY = new ClientKey("vol-x", "0123456789abcdef");

  @TempDir Path base;

  @Test
  void kubernetesConversions() {
    assertThat(CgroupLimits.cpuShares(1000)).isEqualTo(1024);
    assertThat(CgroupLimits.cpuShares(1)).isEqualTo(2);
    assertThat(CgroupLimits.cpuShares(1_000_000)).isEqualTo(262_144);
    assertThat(CgroupLimits.cpuWeight(1000)).isEqualTo(39);
    assertThat(CgroupLimits.cpuWeight(500)).isEqualTo(20);
    assertThat(CgroupLimits.cpuWeight(1)).isEqualTo(1);
    assertThat(CgroupLimits.cpuWeight(1_000_000)).isEqualTo(10_000);
    assertThat(CgroupLimits.cpuQuotaUs(500)).isEqualTo(50_000);
    assertThat(CgroupLimits.cpuQuotaUs(5)).as("the kernel's 1ms minimum").isEqualTo(1_000);
  }

  @Test
  void onlyFieldsThatAreSetAreWritten() {
    ClientResources limits =
        new ClientResources(
            Optional.empty(), Optional.of(500L), Optional.of(0L), Optional.of(64 * MI));
    assertThat(CgroupLimits.files("cpu", false, limits))
        .containsExactly(
            Map.entry("cpu.cfs_period_us", "100000"), Map.entry("cpu.cfs_quota_us", "50000"));
    assertThat(CgroupLimits.files("memory", false, limits))
        .containsExactly(Map.entry("memory.limit_in_bytes", "67108864"));
    assertThat(CgroupLimits.files("cpu", true, limits))
        .containsExactly(Map.entry("cpu.max", "50000 100000"));
    assertThat(CgroupLimits.files("memory", true, limits))
        .containsExactly(Map.entry("memory.max", "67108864"));
    assertThat(CgroupLimits.any(ClientResources.NONE)).isFalse();
    assertThat(
            CgroupLimits.any(
                new ClientResources(
                    Optional.of(0L), Optional.empty(), Optional.empty(), Optional.empty())))
        .as("zero means unset, as in Kubernetes")
        .isFalse();
  }

  @Test
  void hybridHostUsesV1AndIgnoresTheEmptyUnifiedMount() throws Exception {
    Path unified = Files.createDirectories(base.resolve("unified"));
    Files.writeString(unified.resolve("cgroup.controllers"), "hugetlb\n");
    List<MountEntry> mounts =
        MountInfo.parse(
            """
        32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
        35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
        41 31 0:38 / UNIFIED rw,relatime - cgroup2 cgroup2 rw
        """
                .replace("UNIFIED", unified.toString()));
    CgroupHierarchy cpu = CgroupHierarchy.find(mounts, "cpu").orElseThrow();
    assertThat(cpu.mountPoint()).isEqualTo(Path.of("/sys/fs/cgroup/cpu,cpuacct"));
    assertThat(cpu.unified()).isFalse();
    assertThat(CgroupHierarchy.find(mounts, "memory").orElseThrow().mountPoint())
        .isEqualTo(Path.of("/sys/fs/cgroup/memory"));

    List<String> proc = List.of("4:memory:/jfs-csi/vol-x-0123456789ab", "1:cpu,cpuacct:/", "0::/");
    assertThat(
            ClientCgroup.memberOf(proc, CgroupHierarchy.find(mounts, "memory").orElseThrow(), KEY))
        .isTrue();
    assertThat(ClientCgroup.memberOf(proc, cpu, KEY)).isFalse();
  }

  @Test
  void pureV2HostGetsOneCgroupWithBothControllersDelegated() throws Exception {
    // What the kernel would have made: a root that offers cpu and memory, and our cgroup's files.
    Path root = Files.createDirectories(base.resolve("cgroup2"));
    Files.writeString(root.resolve("cgroup.controllers"), "cpuset cpu io memory pids\n");
    Files.writeString(root.resolve("cgroup.subtree_control"), "memory\n");
    Path parent = Files.createDirectories(root.resolve("jfs-csi"));
    Files.writeString(parent.resolve("cgroup.subtree_control"), "");
    Path dir = Files.createDirectories(parent.resolve(KEY.name()));
    for (String f : List.of("cpu.max", "cpu.weight", "memory.max", "memory.low", "cgroup.procs")) {
      Files.writeString(dir.resolve(f), "");
    }
    List<MountEntry> mounts =
        MountInfo.parse("41 31 0:38 / " + root + " rw,relatime - cgroup2 cgroup2 rw\n");
    ClientResources r =
        new ClientResources(
            Optional.of(1000L), Optional.of(500L), Optional.of(32 * MI), Optional.of(64 * MI));

    new ClientCgroup(() -> mounts).apply(KEY, r, 4242);

    assertThat(root.resolve("cgroup.subtree_control"))
        .as("only what was missing")
        .hasContent("+cpu");
    assertThat(parent.resolve("cgroup.subtree_control")).hasContent("+cpu +memory");
    assertThat(dir.resolve("cpu.max")).hasContent("50000 100000");
    assertThat(dir.resolve("cpu.weight")).hasContent("39");
    assertThat(dir.resolve("memory.max")).hasContent("67108864");
    assertThat(dir.resolve("memory.low")).hasContent("33554432");
    assertThat(dir.resolve("cgroup.procs")).hasContent("4242");
    CgroupHierarchy h = CgroupHierarchy.find(mounts, "memory").orElseThrow();
    assertThat(h.unified()).isTrue();
    assertThat(ClientCgroup.memberOf(List.of("0::/jfs-csi/" + KEY.name()), h, KEY)).isTrue();
    assertThat(ClientCgroup.memberOf(List.of("0::/system.slice/x"), h, KEY)).isFalse();
  }

  @Test
  void hostWithoutUsableCgroupsWarnsOnceAndCarriesOn() {
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    Logger logger = (Logger) LoggerFactory.getLogger(ClientCgroup.class);
    Level before = logger.getLevel();
    logger.setLevel(Level.DEBUG);
    logs.start();
    logger.addAppender(logs);
    try {
      List<MountEntry> gone =
          MountInfo.parse(
              "35 31 0:32 / "
                  + base.resolve("absent")
                  + " rw,relatime - cgroup cgroup rw,memory\n");
      ClientCgroup cgroup = new ClientCgroup(() -> gone);
      ClientResources memory =
          new ClientResources(
              Optional.empty(), Optional.empty(), Optional.empty(), Optional.of(64 * MI));
      long self = ProcessHandle.current().pid();
      cgroup.apply(KEY, memory, self);
      cgroup.apply(new ClientKey("vol-y", "0123456789abcdef"), memory, self);
      cgroup.apply(
          new ClientKey("vol-z", "0123456789abcdef"),
          new ClientResources(
              Optional.empty(), Optional.of(100L), Optional.empty(), Optional.empty()),
          self);

      List<ILoggingEvent> warnings =
          Logs.snapshot(logs).stream().filter(e -> e.getLevel() == Level.WARN).toList();
      assertThat(warnings).hasSize(1);
      assertThat(warnings.getFirst().getFormattedMessage())
          .contains(
              "client vol-x-0123456789ab",
              base.resolve("absent").resolve("jfs-csi") + " does not exist",
              "best-effort");
      assertThat(Logs.snapshot(logs))
          .filteredOn(e -> e.getLevel() == Level.DEBUG)
          .extracting(ILoggingEvent::getFormattedMessage)
          .anySatisfy(
              m ->
                  assertThat(m)
                      .contains("vol-z")
                      .contains("no mounted cgroup hierarchy offers the cpu controller"));
    } finally {
      logger.detachAppender(logs);
      logger.setLevel(before);
    }
  }
}

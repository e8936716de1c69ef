package io.jfscsi.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import csi.v1.CapacityRange;
import csi.v1.CreateVolumeRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.VolumeCapability;
import io.jfscsi.Driver;
import io.jfscsi.cli.ConfiguredHost;
import io.jfscsi.csi.CsiClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.assertj.core.api.Assertions;
import org.awaitility.Awaitility;

/**
 * A real driver for wire tests: real Unix socket, real mounts, real FUSE clients, everything under
 * one temporary directory: {@code data/} is the embedded file system, {@code kubelet/} the kubelet
 * root, {@code mnt/} the mount root, {@code state/} the records.
 */
public final class DriverFixture implements AutoCloseable {

  public final Path dir;
  public final Path data;
  public final Path kubelet;
  public final Path socket;
  private final Map<String, Object> overrides = new HashMap<>();
  private Driver driver;
  private CsiClient client;
  private final List<Process> processes = new ArrayList<>();

  public DriverFixture(Path dir) throws IOException {
    this.dir = dir;
    this.data = Files.createDirectories(dir.resolve("data"));
    this.kubelet = Files.createDirectories(dir.resolve("kubelet"));
    this.socket = dir.resolve("csi.sock");
  }

  public DriverFixture with(String key, Object value) {
    overrides.put("jfs-csi." + key, value);
    return this;
  }

  public Config config() {
    Map<String, Object> c =
        new HashMap<>(
            Map.of(
                "jfs-csi.endpoint", "unix://" + socket,
                "jfs-csi.kubelet-root", kubelet.toString(),
                "jfs-csi.mount-root", dir.resolve("mnt").toString(),
                "jfs-csi.state-dir", dir.resolve("state").toString(),
                "jfs-csi.node-id", "test-node",
                "jfs-csi.local.allowed-roots", List.of(dir.toString())));
    c.putAll(overrides);
    return ConfigFactory.parseMap(c).withFallback(ConfigFactory.load()).resolve();
  }

  public DriverFixture start() throws IOException {
    driver = Driver.start(config(), ConfiguredHost.parts(config()));
    client = CsiClient.connect("unix://" + socket);
    return this;
  }

  /**
   * Starts the driver in a JVM of its own, as a real deployment runs it, so a test can kill it with
   * SIGKILL. Overrides given with {@link #with} are passed as system properties.
   */
  public Process startProcess() throws IOException {
    List<String> command =
        new ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow"));
    overrides.forEach((k, v) -> command.add("-D" + k + "=" + v));
    command.addAll(
        List.of(
            "-cp",
            System.getProperty("java.class.path"),
            "io.jfscsi.cli.Main",
            "serve",
            "--endpoint",
            "unix://" + socket,
            "--kubelet-root",
            kubelet.toString(),
            "--mount-root",
            dir.resolve("mnt").toString(),
            "--state-dir",
            dir.resolve("state").toString(),
            "--node-id",
            "test-node",
            "--local-root",
            dir.toString()));
    Process process =
        new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("driver.log").toFile()))
            .start();
    processes.add(process);
    if (client != null) {
      client.close();
    }
    client = CsiClient.connect("unix://" + socket);
    Awaitility.await()
        .atMost(Duration.ofSeconds(30))
        .ignoreExceptions()
        .until(
            () -> client.identity().probe(ProbeRequest.getDefaultInstance()).getReady().getValue());
    return process;
  }

  /** Stops the driver as an upgrade would: clients and mounts stay. */
  public void stopDriver() {
    if (client != null) {
      client.close();
      client = null;
    }
    if (driver != null) {
      driver.close();
      driver = null;
    }
  }

  public Driver driver() {
    return driver;
  }

  public CsiClient csi() {
    return client;
  }

  public Map<String, String> secrets() {
    return Map.of("name", "testfs", "metaurl", "local://" + data);
  }

  public static final VolumeCapability RWX =
      VolumeCapability.newBuilder()
          .setMount(VolumeCapability.MountVolume.getDefaultInstance())
          .setAccessMode(
              VolumeCapability.AccessMode.newBuilder()
                  .setMode(VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER))
          .build();

  /** A CreateVolume of a 1 GiB RWX volume on the fixture's file system, as a provisioner asks. */
  public CreateVolumeRequest.Builder createRequest(String name) {
    return CreateVolumeRequest.newBuilder()
        .setName(name)
        .addVolumeCapabilities(RWX)
        .putAllSecrets(secrets())
        .setCapacityRange(CapacityRange.newBuilder().setRequiredBytes(1 << 30));
  }

  /** A publish of the sub-directory named after the volume, as kubelet sends it. */
  public NodePublishVolumeRequest.Builder publishRequest(String volumeId, Path target) {
    return NodePublishVolumeRequest.newBuilder()
        .setVolumeId(volumeId)
        .setTargetPath(target.toString())
        .setVolumeCapability(RWX)
        .putAllSecrets(secrets())
        .putVolumeContext("subPath", volumeId);
  }

  public void publish(String volumeId, Path target) {
    client.node().nodePublishVolume(publishRequest(volumeId, target).build());
  }

  public void unpublish(String volumeId, Path target) {
    client
        .node()
        .nodeUnpublishVolume(
            NodeUnpublishVolumeRequest.newBuilder()
                .setVolumeId(volumeId)
                .setTargetPath(target.toString())
                .build());
  }

  /** A pod's volume directory as kubelet lays it out; the target itself is not created. */
  public Path target(String pod, String volume) throws IOException {
    Path parent =
        kubelet
            .resolve("pods")
            .resolve(pod)
            .resolve("volumes")
            .resolve("kubernetes.io~csi")
            .resolve(volume);
    Files.createDirectories(parent);
    return parent.resolve("mount");
  }

  /** Pids of FUSE clients serving something under this fixture's directory. */
  public List<Long> clientPids() {
    List<Long> pids = new ArrayList<>();
    ProcessHandle.allProcesses()
        .forEach(
            p ->
                p.info()
                    .arguments()
                    .ifPresent(
                        args -> {
                          String joined = String.join(" ", args);
                          if (joined.contains(dir.toString())
                              && p.info().command().orElse("").contains("bindfs")) {
                            pids.add(p.pid());
                          }
                        }));
    return pids;
  }

  /**
   * The last unpublish is answered before its client is stopped: waits until no client runs and
   * nothing is mounted under this fixture's directory.
   */
  public void awaitNoClients() {
    Awaitility.await()
        .atMost(Duration.ofSeconds(15))
        .untilAsserted(
            () -> {
              Assertions.assertThat(clientPids()).as("client pids").isEmpty();
              Assertions.assertThat(mountsUnder()).as("mounts").isEmpty();
            });
  }

  /** Mount points under this fixture's directory, from /proc/self/mountinfo. */
  public List<String> mountsUnder() throws IOException {
    List<String> result = new ArrayList<>();
    for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
      String mountPoint = line.split(" ")[4].replace("\\040", " ");
      if (mountPoint.startsWith(dir.toString())) {
        result.add(mountPoint);
      }
    }
    return result;
  }

  /** Stops the driver, then kills clients and unmounts everything it left, deepest first. */
  @Override
  public void close() throws Exception {
    stopDriver();
    for (Process p : processes) {
      p.destroyForcibly().waitFor();
    }
    for (long pid : clientPids()) {
      ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
    }
    List<String> mounts = mountsUnder();
    mounts.sort((a, b) -> b.length() - a.length());
    for (String m : mounts) {
      new ProcessBuilder("umount", "-l", m).inheritIO().start().waitFor();
    }
  }
}

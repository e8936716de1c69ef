package io.jfscsi.bench;

import com.google.protobuf.BoolValue;
import csi.v1.GetPluginCapabilitiesRequest;
import csi.v1.GetPluginCapabilitiesResponse;
import csi.v1.GetPluginInfoRequest;
import csi.v1.GetPluginInfoResponse;
import csi.v1.NodeExpandVolumeRequest;
import csi.v1.NodeExpandVolumeResponse;
import csi.v1.NodeGetCapabilitiesRequest;
import csi.v1.NodeGetCapabilitiesResponse;
import csi.v1.NodeGetInfoRequest;
import csi.v1.NodeGetInfoResponse;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodeGetVolumeStatsResponse;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodePublishVolumeResponse;
import csi.v1.NodeStageVolumeRequest;
import csi.v1.NodeStageVolumeResponse;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeResponse;
import csi.v1.NodeUnstageVolumeRequest;
import csi.v1.NodeUnstageVolumeResponse;
import csi.v1.ProbeRequest;
import csi.v1.ProbeResponse;
import io.jfscsi.Driver;
import io.jfscsi.Failure;
import io.jfscsi.csi.CsiServer;
import io.jfscsi.csi.Endpoint;
import io.jfscsi.csi.Services;
import io.jfscsi.csi.Unimplemented;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.MountException;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jfs-csi bench bare-plugin} (hidden): the smallest CSI Node plugin on the driver's own
 * transport, the floor any plugin served this way pays. It is the driver's {@link CsiServer} (Netty
 * epoll on a Unix socket, direct executor) and {@link Services} bridge with handlers that do the
 * work inline on the transport thread: NodePublishVolume is mkdir + bind of the volume's {@code
 * --source} directory, NodeUnpublishVolume is unmount + rmdir, through the driver's {@link
 * LinuxMounter}. No actors, no records, no request checks beyond a known volume id.
 *
 * <p>{@code bench} starts it in a JVM of its own ({@link Child}), as the driver runs, so that both
 * sides of the comparison pay the same process boundary.
 */
@Command(
    name = "bare-plugin",
    hidden = true,
    mixinStandardHelpOptions = true,
    description =
        "A minimal CSI Node plugin (mkdir + bind, unmount + rmdir) on the driver's "
            + "transport, the baseline bench compares the driver with. Serves until its standard "
            + "input closes or it is terminated.")
final class BarePlugin implements Callable<Integer> {

  /** What the bench starts it with; the report names them. */
  static final List<String> JVM_OPTIONS =
      List.of(
          "--enable-native-access=ALL-UNNAMED",
          // As the driver is run (bin/try-embedded, DriverFixture): Netty's use of Unsafe is part
          // of the transport being compared.
          "--sun-misc-unsafe-memory-access=allow",
          "-XX:+UseSerialGC",
          "-Xmx64m");

  @Option(
      names = "--endpoint",
      required = true,
      description = "where to listen: unix:///path/csi.sock")
  String endpoint;

  @Option(
      names = "--source",
      required = true,
      description = "VOLUME_ID=PATH: the directory a publish of that volume binds (repeatable)")
  Map<String, Path> sources = new LinkedHashMap<>();

  @Override
  public Integer call() throws IOException {
    try (CsiServer server = serve(Endpoint.parse(endpoint), sources)) {
      // The bench holds the other end of standard input: when it exits, even by SIGKILL, this
      // read returns and the plugin stops with it instead of being left behind.
      System.in.transferTo(OutputStream.nullOutputStream());
    }
    return 0;
  }

  /** Serves the bare plugin at {@code endpoint} until the returned server is closed. */
  static CsiServer serve(Endpoint endpoint, Map<String, Path> sources) throws IOException {
    return CsiServer.start(
        endpoint,
        List.of(
            Services.identity(new Identity()),
            Services.node(new Node(Map.copyOf(sources), new LinuxMounter()))),
        Duration.ofSeconds(2));
  }

  private static <T> CompletionStage<T> done(T response) {
    return CompletableFuture.completedFuture(response);
  }

  private static <T> CompletionStage<T> internal(String what, Exception e) {
    String message = e instanceof MountException ? e.getMessage() : what + ": " + e;
    return CompletableFuture.failedFuture(new Failure(Failure.Code.INTERNAL, message));
  }

  /** Always ready: nothing to wait for. */
  static final class Identity implements csi.v1.Identity {
    @Override
    public CompletionStage<GetPluginInfoResponse> getPluginInfo(GetPluginInfoRequest in) {
      return done(
          GetPluginInfoResponse.newBuilder()
              .setName("bare-plugin.bench.jfs-csi")
              .setVendorVersion(Driver.version())
              .build());
    }

    @Override
    public CompletionStage<GetPluginCapabilitiesResponse> getPluginCapabilities(
        GetPluginCapabilitiesRequest in) {
      return done(GetPluginCapabilitiesResponse.getDefaultInstance());
    }

    @Override
    public CompletionStage<ProbeResponse> probe(ProbeRequest in) {
      return done(ProbeResponse.newBuilder().setReady(BoolValue.of(true)).build());
    }
  }

  /** Publish and unpublish done on the calling (transport) thread. */
  static final class Node implements csi.v1.Node {
    private final Map<String, Path> sources;
    private final LinuxMounter mounter;

    Node(Map<String, Path> sources, LinuxMounter mounter) {
      this.sources = sources;
      this.mounter = mounter;
    }

    @Override
    public CompletionStage<NodePublishVolumeResponse> nodePublishVolume(
        NodePublishVolumeRequest in) {
      Path source = sources.get(in.getVolumeId());
      if (source == null) {
        return CompletableFuture.failedFuture(
            new Failure(Failure.Code.NOT_FOUND, "volume " + in.getVolumeId() + " has no --source"));
      }
      Path target = Path.of(in.getTargetPath());
      try {
        Files.createDirectory(target);
      } catch (IOException e) {
        return internal("mkdir " + target, e);
      }
      try {
        mounter.bind(source, target, in.getReadonly());
      } catch (MountException e) {
        try {
          Files.deleteIfExists(target); // a failed publish leaves no directory behind
        } catch (IOException ignored) {
          // the bind's error is the one to report
        }
        return internal("bind", e);
      }
      return done(NodePublishVolumeResponse.getDefaultInstance());
    }

    @Override
    public CompletionStage<NodeUnpublishVolumeResponse> nodeUnpublishVolume(
        NodeUnpublishVolumeRequest in) {
      Path target = Path.of(in.getTargetPath());
      try {
        mounter.unmount(target);
        Files.deleteIfExists(target);
      } catch (MountException | IOException e) {
        return internal("unpublish " + target, e);
      }
      return done(NodeUnpublishVolumeResponse.getDefaultInstance());
    }

    @Override
    public CompletionStage<NodeGetCapabilitiesResponse> nodeGetCapabilities(
        NodeGetCapabilitiesRequest in) {
      return done(NodeGetCapabilitiesResponse.getDefaultInstance());
    }

    @Override
    public CompletionStage<NodeStageVolumeResponse> nodeStageVolume(NodeStageVolumeRequest in) {
      return Unimplemented.call("NodeStageVolume");
    }

    @Override
    public CompletionStage<NodeUnstageVolumeResponse> nodeUnstageVolume(
        NodeUnstageVolumeRequest in) {
      return Unimplemented.call("NodeUnstageVolume");
    }

    @Override
    public CompletionStage<NodeGetVolumeStatsResponse> nodeGetVolumeStats(
        NodeGetVolumeStatsRequest in) {
      return Unimplemented.call("NodeGetVolumeStats");
    }

    @Override
    public CompletionStage<NodeExpandVolumeResponse> nodeExpandVolume(NodeExpandVolumeRequest in) {
      return Unimplemented.call("NodeExpandVolume");
    }

    @Override
    public CompletionStage<NodeGetInfoResponse> nodeGetInfo(NodeGetInfoRequest in) {
      return Unimplemented.call("NodeGetInfo");
    }
  }

  /**
   * A bare plugin in a child JVM: the same java binary and class path as this one, its socket and
   * output in a fresh temporary directory. {@link #close} kills it and removes the directory; if
   * this JVM dies first, the child sees its standard input close and exits.
   */
  static final class Child implements AutoCloseable {
    private final Process process;
    private final Path dir;
    private final Path log;
    private final String endpoint;

    private Child(Process process, Path dir, Path log, String endpoint) {
      this.process = process;
      this.dir = dir;
      this.log = log;
      this.endpoint = endpoint;
    }

    /** Starts it and waits until its Probe answers ready, at most {@code timeout}. */
    static Child start(Map<String, Path> sources, Duration timeout) throws IOException {
      Path dir = Files.createTempDirectory("jfs-csi-bare.");
      Path log = dir.resolve("bare-plugin.log");
      String endpoint = "unix://" + dir.resolve("csi.sock");
      List<String> command = new ArrayList<>();
      command.add(
          ProcessHandle.current()
              .info()
              .command()
              .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
      command.addAll(JVM_OPTIONS);
      command.addAll(
          List.of(
              "-cp",
              classPath(),
              BenchMain.class.getName(),
              "bare-plugin",
              "--endpoint",
              endpoint));
      sources.forEach((id, path) -> command.addAll(List.of("--source", id + "=" + path)));
      Process process;
      try {
        // Standard input stays a pipe from this JVM: see call().
        process =
            new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
      } catch (IOException | RuntimeException e) {
        removeAll(dir);
        throw e;
      }
      Child child = new Child(process, dir, log, endpoint);
      try {
        child.awaitReady(timeout);
      } catch (RuntimeException e) {
        child.close();
        throw e;
      }
      return child;
    }

    private void awaitReady(Duration timeout) {
      long deadline = System.nanoTime() + timeout.toNanos();
      Path socket = dir.resolve("csi.sock");
      while (true) {
        if (!process.isAlive()) {
          throw new IllegalStateException(
              "the bare plugin at "
                  + endpoint
                  + " exited with code "
                  + process.exitValue()
                  + " before it was ready; its output ends with:\n"
                  + tail());
        }
        if (Files.exists(socket)
            && NodeCalls.readyOnFreshConnection(endpoint, Duration.ofSeconds(1))) {
          return;
        }
        if (System.nanoTime() - deadline > 0) {
          throw new IllegalStateException(
              "the bare plugin at "
                  + endpoint
                  + " (pid "
                  + process.pid()
                  + ") is not ready after "
                  + timeout.toSeconds()
                  + " s; its output ends with:\n"
                  + tail());
        }
        try {
          Thread.sleep(50);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IllegalStateException("interrupted while the bare plugin started", e);
        }
      }
    }

    String endpoint() {
      return endpoint;
    }

    long pid() {
      return process.pid();
    }

    /** The last lines of its standard output and error. */
    String tail() {
      try {
        List<String> lines = Files.readAllLines(log, StandardCharsets.UTF_8);
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
      } catch (IOException e) {
        return "(no output: " + e.getMessage() + ")";
      }
    }

    /** SIGTERM, SIGKILL if it has not exited within 5 s; then its directory is removed. */
    @Override
    public void close() {
      process.destroy();
      try {
        if (!process.waitFor(5, TimeUnit.SECONDS)) {
          process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
        }
      } catch (InterruptedException e) {
        process.destroyForcibly();
        Thread.currentThread().interrupt();
      }
      removeAll(dir);
    }

    /**
     * This JVM's class path and the bench's own jar or directory: run as {@code jfs-csi bench}, the
     * bench was loaded from jfs-csi-bench.jar, which the class path does not name.
     */
    private static String classPath() {
      try {
        Path bench =
            Path.of(BarePlugin.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        return System.getProperty("java.class.path") + File.pathSeparator + bench;
      } catch (URISyntaxException e) {
        throw new IllegalStateException(e);
      }
    }

    private static void removeAll(Path dir) {
      try (Stream<Path> all = Files.walk(dir)) {
        for (Path p : all.sorted(Comparator.reverseOrder()).toList()) {
          Files.deleteIfExists(p);
        }
      } catch (IOException e) {
        // a temporary directory that could not be removed is not worth failing the bench for
      }
    }
  }
}

package io.jfscsi;

import com.typesafe.config.Config;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.controller.VolumeProvisioner;
import io.jfscsi.controller.kube.ControllerConfigMap;
import io.jfscsi.csi.ControllerService;
import io.jfscsi.csi.CsiServer;
import io.jfscsi.csi.Endpoint;
import io.jfscsi.csi.IdentityService;
import io.jfscsi.csi.Services;
import io.jfscsi.host.ContainerRecovery;
import io.jfscsi.host.Mounter;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.management.DriverMetrics;
import io.jfscsi.management.ManagementContext;
import io.jfscsi.management.ManagementServer;
import io.jfscsi.management.ManagementSettings;
import io.jfscsi.mount.ClientRecovered;
import io.jfscsi.mount.MountSettings;
import io.jfscsi.mount.NodeGuardian;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.DispatcherSelector;
import org.apache.pekko.actor.typed.Terminated;
import org.apache.pekko.actor.typed.eventstream.EventStream;
import org.apache.pekko.actor.typed.javadsl.Behaviors;

/**
 * One running driver: the actor system, the node guardian and the provisioner for the roles it
 * plays, and the CSI server in front of them. Stopping it stops serving CSI and the actors, and
 * leaves every client and every published mount in place. What each role adds around its actor is
 * wired by {@link NodeWiring}, {@link ControllerWiring} and {@link WebhookWiring}.
 */
public final class Driver implements AutoCloseable {

  /**
   * The parts that touch the host, chosen by the caller (real ones, or fakes in tests). {@code
   * provisionerRuntime} runs the controller's short-lived clients: local processes even when the
   * node's clients are Mount Pods.
   */
  public record HostParts(
      MountRuntime runtime,
      Mounter mounter,
      ContainerRecovery containers,
      DriverMetrics metrics,
      MountRuntime provisionerRuntime) {}

  /** Why the driver stopped when its node guardian did: {@link #failed()}. */
  static final CoordinatedShutdown.Reason GUARDIAN_STOPPED = new CoordinatedShutdown.Reason() {};

  private record Actors(
      ActorRef<NodeGuardian.Command> guardian, ActorRef<VolumeProvisioner.Command> provisioner) {}

  private final ActorSystem<Void> system;
  private final CsiServer server;
  private final Actors actors;
  private final ManagementServer management;

  private Driver(
      ActorSystem<Void> system, CsiServer server, Actors actors, ManagementServer management) {
    this.system = system;
    this.server = server;
    this.actors = actors;
    this.management = management;
  }

  public static Driver start(Config config, HostParts host) throws IOException {
    Config c = config.getConfig("jfs-csi");
    List<String> roles = c.getStringList("roles");
    boolean node = roles.contains("node");
    boolean controller = roles.contains("controller");
    if (!node && !controller) {
      throw new IllegalArgumentException("jfs-csi.roles must name node, controller or both");
    }
    MountSettings mountSettings = MountSettings.from(c);
    ManagementSettings managementSettings = ManagementSettings.from(c);
    Path stateDir = Path.of(c.getString("state-dir"));
    // Records hold the secrets needed to restart clients: owner only.
    Files.createDirectories(stateDir);
    Files.setPosixFilePermissions(stateDir, PosixFilePermissions.fromString("rwx------"));
    ControllerConfigMap controllerConfig = ControllerWiring.configMap(c, controller);
    Supplier<QuotaSwitches> quotaSwitches =
        ControllerWiring.quotaSwitches(controllerConfig, host.runtime());
    CompletableFuture<Actors> spawned = new CompletableFuture<>();
    ActorSystem<Void> system =
        ActorSystem.create(
            Behaviors.setup(
                ctx -> {
                  DispatcherSelector ownThread =
                      DispatcherSelector.fromConfig(NodeGuardian.OWN_THREAD_DISPATCHER);
                  if (node) {
                    NodeWiring.keepFuseFds(ctx, host);
                  }
                  var guardian =
                      node
                          ? ctx.spawn(
                              NodeGuardian.create(
                                  host.runtime(),
                                  host.mounter(),
                                  host.containers(),
                                  mountSettings,
                                  Clock.systemUTC()),
                              "node",
                              ownThread)
                          : null;
                  var provisioner =
                      controller
                          ? ctx.spawn(
                              ControllerWiring.provisioner(c, stateDir, host, quotaSwitches),
                              "provisioner",
                              ownThread)
                          : null;
                  // Client recoveries reach the metrics through the event stream (no port in the
                  // actors).
                  var recoveries =
                      ctx.spawn(
                          Behaviors.<ClientRecovered>receiveMessage(
                              r -> {
                                host.metrics().onClientRecovered(r);
                                return Behaviors.same();
                              }),
                          "recovery-metrics");
                  ctx.getSystem()
                      .eventStream()
                      .tell(new EventStream.Subscribe<>(ClientRecovered.class, recoveries));
                  spawned.complete(new Actors(guardian, provisioner));
                  if (guardian == null) {
                    return Behaviors.empty();
                  }
                  // A node guardian that stops (it could not start, say) leaves a process that
                  // answers nothing: end it, so that kubelet restarts the container.
                  ctx.watch(guardian);
                  return Behaviors.receive(Void.class)
                      .onSignal(
                          Terminated.class,
                          t -> {
                            ctx.getLog()
                                .error(
                                    "the node guardian stopped; the driver stops so that it is"
                                        + " started again");
                            CoordinatedShutdown.get(ctx.getSystem()).run(GUARDIAN_STOPPED);
                            return Behaviors.same();
                          })
                      .build();
                }),
            "jfs-csi",
            managementSettings.applyTo(config));
    try {
      Actors actors = spawned.get(30, TimeUnit.SECONDS);
      String nodeId =
          c.getString("node-id").isEmpty()
              ? InetAddress.getLocalHost().getHostName()
              : c.getString("node-id");
      Supplier<CompletionStage<Boolean>> probe = () -> ready(system, actors, host.runtime());
      List<ServerServiceDefinition> services = new ArrayList<>();
      services.add(
          Services.identity(
              new IdentityService(c.getString("driver-name"), version(), controller, probe)));
      if (node) {
        services.add(NodeWiring.service(system, c, host, actors.guardian(), mountSettings, nodeId));
      }
      if (controller) {
        services.add(
            Services.controller(
                new ControllerService(
                    actors.provisioner(), system.scheduler(), c.getDuration("call-timeout"))));
      }
      // Management: every call timed and counted; HTTP up before the socket, /ready says when.
      DriverMetrics metrics = host.metrics();
      services.replaceAll(s -> ServerInterceptors.intercept(s, metrics.interceptor()));
      ManagementServer management =
          managementSettings.enabled()
              ? ManagementServer.start(
                  system, managementSettings, actors.guardian(), metrics, probe, nodeId)
              : null;
      CsiServer server =
          CsiServer.start(
              Endpoint.parse(c.getString("endpoint")), services, c.getDuration("shutdown-grace"));
      if (management != null) {
        management.csiServing(true);
        ManagementContext.get(system).warnings(host.runtime()::warnings);
      }
      if (node) {
        NodeWiring.registerWithKubelet(system, c, mountSettings);
      }
      Driver driver = new Driver(system, server, actors, management);
      if (controller) {
        ControllerWiring.startBuiltinProvisioner(
            system, c, actors.provisioner(), metrics, management);
        WebhookWiring.startIfConfigured(system, c, host.runtime(), controllerConfig);
      }
      ShutdownTasks.closeBeforeTerminate(system, "controller-config-map", controllerConfig::close);
      if (host.runtime() instanceof AutoCloseable closeable) { // informers, API client
        ShutdownTasks.closeBeforeTerminate(
            system,
            "runtime",
            () -> {
              try {
                closeable.close();
              } catch (Exception e) {
                system.log().warn("closing the runtime failed: {}", e.toString());
              }
            });
      }
      ShutdownTasks.closeOnUnbind(
          system,
          "csi-server",
          () -> {
            if (management != null) {
              management.csiServing(false);
            }
            server.close();
          });
      return driver;
    } catch (Exception e) {
      controllerConfig.close();
      system.terminate();
      if (e instanceof IOException io) {
        throw io;
      }
      throw new IOException("driver did not start: " + e.getMessage(), e);
    }
  }

  /** Ready when the guardian answers and the runtime can start clients. */
  private static CompletionStage<Boolean> ready(
      ActorSystem<Void> system, Actors actors, MountRuntime runtime) {
    if (!runtime.ready()) {
      return CompletableFuture.completedFuture(false);
    }
    if (actors.guardian() == null) {
      return CompletableFuture.completedFuture(true);
    }
    return Asks.<NodeGuardian.Command, List<?>>ask(
            actors.guardian(),
            reply -> new NodeGuardian.ListClients(reply.unsafeUpcast()),
            Duration.ofSeconds(5),
            system.scheduler())
        .thenApply(clients -> true);
  }

  /** Whether the driver stopped by itself because its node guardian stopped. */
  public boolean failed() {
    return CoordinatedShutdown.get(system)
        .getShutdownReason()
        .filter(GUARDIAN_STOPPED::equals)
        .isPresent();
  }

  public ActorSystem<Void> system() {
    return system;
  }

  public ActorRef<NodeGuardian.Command> guardian() {
    return actors.guardian();
  }

  public int port() {
    return server.port();
  }

  /** The port of the management HTTP server; empty when it is disabled. */
  public OptionalInt managementPort() {
    return management == null ? OptionalInt.empty() : OptionalInt.of(management.port());
  }

  /** Stops serving and stops the actors; clients and mounts stay as they are. */
  @Override
  public void close() {
    CoordinatedShutdown.get(system).run(CoordinatedShutdown.unknownReason());
    system
        .getWhenTerminated()
        .toCompletableFuture()
        .orTimeout(30, TimeUnit.SECONDS)
        .exceptionally(e -> null)
        .join();
  }

  public static String version() {
    try (InputStream in = Driver.class.getResourceAsStream("/jfs-csi-version.properties")) {
      Properties p = new Properties();
      if (in != null) {
        p.load(in);
      }
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }
}

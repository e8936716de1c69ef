package io.jfscsi.csi;

import io.grpc.stub.StreamObserver;
import io.jfscsi.csi.registration.InfoRequest;
import io.jfscsi.csi.registration.PluginInfo;
import io.jfscsi.csi.registration.RegistrationGrpc;
import io.jfscsi.csi.registration.RegistrationStatus;
import io.jfscsi.csi.registration.RegistrationStatusResponse;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubelet's plugin registration ({@code pluginregistration.v1}), served by the node plugin itself
 * in place of the node-driver-registrar sidecar: kubelet finds the socket {@code <kubelet
 * root>/plugins_registry/<driver name>-reg.sock}, asks GetInfo for the CSI socket and versions, and
 * reports through NotifyRegistrationStatus whether it took the plugin. A refusal is kept, so that
 * /ready says why kubelet will not call this driver; a later success clears it.
 */
public final class KubeletRegistration extends RegistrationGrpc.RegistrationImplBase
    implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubeletRegistration.class);

  /** The CSI versions this driver speaks, as node-driver-registrar announces them. */
  static final List<String> SUPPORTED_VERSIONS = List.of("1.0.0");

  private final String driverName;
  private final Path csiSocket;
  private final AtomicReference<Optional<String>> refusal = new AtomicReference<>(Optional.empty());
  private CsiServer server;

  KubeletRegistration(String driverName, Path csiSocket) {
    this.driverName = driverName;
    this.csiSocket = csiSocket;
  }

  /** The registration socket's path for a driver under a kubelet root. */
  public static Path socketPath(Path kubeletRoot, String driverName) {
    return kubeletRoot.resolve("plugins_registry").resolve(driverName + "-reg.sock");
  }

  /**
   * Serves registration on {@link #socketPath}. {@code csiEndpoint} must be a Unix socket whose
   * path is the same on the host as here (kubelet dials the path GetInfo names).
   */
  public static KubeletRegistration start(
      Path kubeletRoot, String driverName, Endpoint csiEndpoint, Duration grace)
      throws IOException {
    if (!(csiEndpoint instanceof Endpoint.Unix(Path csiSocket))) {
      throw new IllegalArgumentException(
          "kubelet registration needs a unix:// CSI endpoint, not " + csiEndpoint);
    }
    KubeletRegistration registration = new KubeletRegistration(driverName, csiSocket);
    Path socket = socketPath(kubeletRoot, driverName);
    registration.server =
        CsiServer.start(new Endpoint.Unix(socket), List.of(registration.bindService()), grace);
    log.info("kubelet plugin registration served on {} for CSI socket {}", socket, csiSocket);
    return registration;
  }

  @Override
  public void getInfo(InfoRequest request, StreamObserver<PluginInfo> reply) {
    reply.onNext(
        PluginInfo.newBuilder()
            .setType("CSIPlugin")
            .setName(driverName)
            .setEndpoint(csiSocket.toString())
            .addAllSupportedVersions(SUPPORTED_VERSIONS)
            .build());
    reply.onCompleted();
  }

  @Override
  public void notifyRegistrationStatus(
      RegistrationStatus status, StreamObserver<RegistrationStatusResponse> reply) {
    if (status.getPluginRegistered()) {
      log.info("kubelet registered plugin {} (CSI socket {})", driverName, csiSocket);
      refusal.set(Optional.empty());
    } else {
      log.error("kubelet refused to register plugin {}: {}", driverName, status.getError());
      refusal.set(Optional.of(status.getError().isEmpty() ? "no reason given" : status.getError()));
    }
    reply.onNext(RegistrationStatusResponse.getDefaultInstance());
    reply.onCompleted();
  }

  /** Why kubelet refused this plugin at its last registration; empty when it took it. */
  public Optional<String> refusal() {
    return refusal.get();
  }

  @Override
  public void close() {
    if (server != null) {
      server.close();
    }
  }
}

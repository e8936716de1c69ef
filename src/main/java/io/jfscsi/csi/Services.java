package io.jfscsi.csi;

import csi.v1.Controller;
import csi.v1.ControllerGrpc;
import csi.v1.Identity;
import csi.v1.IdentityGrpc;
import csi.v1.Node;
import csi.v1.NodeGrpc;
import io.grpc.ServerServiceDefinition;

/** The CSI services as grpc-java service definitions, ready for {@link CsiServer}. */
public final class Services {
  private Services() {}

  public static ServerServiceDefinition identity(Identity impl) {
    return GrpcBridge.serve(IdentityGrpc.getServiceDescriptor(), Identity.class, impl);
  }

  public static ServerServiceDefinition node(Node impl) {
    return GrpcBridge.serve(NodeGrpc.getServiceDescriptor(), Node.class, impl);
  }

  public static ServerServiceDefinition controller(Controller impl) {
    return GrpcBridge.serve(ControllerGrpc.getServiceDescriptor(), Controller.class, impl);
  }
}

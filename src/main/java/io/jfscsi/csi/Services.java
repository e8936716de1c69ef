package io.jfscsi.csi;

import io.grpc.ServerServiceDefinition;

/** The CSI services as grpc-java service definitions, ready for {@link CsiServer}. */
public final class Services {
  private Services() {}

  public static ServerServiceDefinition identity(csi.v1.Identity impl) {
    return GrpcBridge.serve(csi.v1.IdentityGrpc.getServiceDescriptor(), csi.v1.Identity.class,
        impl);
  }

  public static ServerServiceDefinition node(csi.v1.Node impl) {
    return GrpcBridge.serve(csi.v1.NodeGrpc.getServiceDescriptor(), csi.v1.Node.class, impl);
  }

  public static ServerServiceDefinition controller(csi.v1.Controller impl) {
    return GrpcBridge.serve(csi.v1.ControllerGrpc.getServiceDescriptor(),
        csi.v1.Controller.class, impl);
  }
}

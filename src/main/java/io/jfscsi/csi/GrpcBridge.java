package io.jfscsi.csi;

import io.grpc.MethodDescriptor;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.reflect.Method;
import java.util.Arrays;
import java.util.concurrent.CompletionStage;

/**
 * Serves a pekko-grpc service interface (one CompletionStage method per RPC) through grpc-java,
 * whose Netty transport can listen on a Unix socket. Each unary RPC of the descriptor is wired to
 * the interface method of the same name; the handler's failure becomes the CSI status.
 */
final class GrpcBridge {
  private GrpcBridge() {}

  static ServerServiceDefinition serve(ServiceDescriptor descriptor, Class<?> api, Object impl) {
    var builder = ServerServiceDefinition.builder(descriptor);
    for (MethodDescriptor<?, ?> method : descriptor.getMethods()) {
      if (method.getType() != MethodDescriptor.MethodType.UNARY) {
        continue; // streaming RPCs (snapshot metadata) are not offered: grpc-java answers UNIMPLEMENTED
      }
      builder.addMethod(unary(method, handle(api, impl, method.getBareMethodName())));
    }
    return builder.build();
  }

  private static MethodHandle handle(Class<?> api, Object impl, String rpc) {
    String name = Character.toLowerCase(rpc.charAt(0)) + rpc.substring(1);
    Method method = Arrays.stream(api.getMethods()).filter(m -> m.getName().equals(name))
        .findFirst().orElseThrow(() -> new IllegalStateException(api + " lacks " + name));
    try {
      return MethodHandles.publicLookup().unreflect(method).bindTo(impl);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> io.grpc.ServerMethodDefinition<Q, R> unary(MethodDescriptor<?, ?> method,
                                                                 MethodHandle target) {
    MethodDescriptor<Q, R> typed = (MethodDescriptor<Q, R>) method;
    return io.grpc.ServerMethodDefinition.create(typed, ServerCalls.asyncUnaryCall(
        (Q request, StreamObserver<R> responses) -> {
          CompletionStage<R> answer;
          try {
            answer = (CompletionStage<R>) target.invoke(request);
          } catch (Throwable e) {
            responses.onError(StatusMapping.toStatus(e));
            return;
          }
          answer.whenComplete((response, error) -> {
            if (error != null) {
              responses.onError(StatusMapping.toStatus(error));
            } else {
              responses.onNext(response);
              responses.onCompleted();
            }
          });
        }));
  }
}

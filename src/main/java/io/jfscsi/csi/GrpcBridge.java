package io.jfscsi.csi;

import com.google.protobuf.Message;
import io.grpc.MethodDescriptor;
import io.grpc.ServerMethodDefinition;
import io.grpc.ServerServiceDefinition;
import io.grpc.ServiceDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.stub.ServerCalls;
import io.grpc.stub.StreamObserver;
import java.io.InputStream;
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
    // By name, not by descriptor: each method is served with a request marshaller of its own.
    var builder = ServerServiceDefinition.builder(descriptor.getName());
    for (MethodDescriptor<?, ?> method : descriptor.getMethods()) {
      if (method.getType() != MethodDescriptor.MethodType.UNARY) {
        continue; // streaming RPCs (snapshot metadata) are not offered: grpc-java answers
        // UNIMPLEMENTED
      }
      builder.addMethod(unary(method, handle(api, impl, method.getBareMethodName())));
    }
    return builder.build();
  }

  private static MethodHandle handle(Class<?> api, Object impl, String rpc) {
    String name = Character.toLowerCase(rpc.charAt(0)) + rpc.substring(1);
    Method method =
        Arrays.stream(api.getMethods())
            .filter(m -> m.getName().equals(name))
            .findFirst()
            .orElseThrow(() -> new IllegalStateException(api + " lacks " + name));
    try {
      return MethodHandles.publicLookup().unreflect(method).bindTo(impl);
    } catch (IllegalAccessException e) {
      throw new IllegalStateException(e);
    }
  }

  @SuppressWarnings("unchecked")
  private static <Q, R> ServerMethodDefinition<Object, R> unary(
      MethodDescriptor<?, ?> method, MethodHandle target) {
    MethodDescriptor<Q, R> typed = (MethodDescriptor<Q, R>) method;
    MethodDescriptor<Object, R> lenient =
        typed.toBuilder(new Lenient<>(typed.getRequestMarshaller()), typed.getResponseMarshaller())
            .build();
    return ServerMethodDefinition.create(
        lenient,
        ServerCalls.asyncUnaryCall(
            (Object request, StreamObserver<R> responses) -> {
              if (request instanceof Unparsable bad) {
                responses.onError(
                    Status.INVALID_ARGUMENT
                        .withDescription(
                            "the request is not a "
                                + "valid CSI message (every string field must be UTF-8): "
                                + bad.reason())
                        .asRuntimeException());
                return;
              }
              CompletionStage<R> answer;
              try {
                RequestStrings.check((Message) request);
                answer = (CompletionStage<R>) target.invoke(request);
              } catch (Throwable e) {
                responses.onError(StatusMapping.toStatus(e));
                return;
              }
              answer.whenComplete(
                  (response, error) -> {
                    if (error != null) {
                      responses.onError(StatusMapping.toStatus(error));
                    } else {
                      responses.onNext(response);
                      responses.onCompleted();
                    }
                  });
            }));
  }

  /** A request whose bytes are not the message (e.g. a string that is not UTF-8). */
  private record Unparsable(String reason) {}

  /**
   * The generated marshaller, except that a request it cannot parse becomes an {@link Unparsable}
   * that the call answers INVALID_ARGUMENT: grpc-java answers a parse failure UNKNOWN, which tells
   * the caller nothing about its own bad input.
   */
  private record Lenient<Q>(MethodDescriptor.Marshaller<Q> generated)
      implements MethodDescriptor.Marshaller<Object> {
    @Override
    @SuppressWarnings("unchecked")
    public InputStream stream(Object value) {
      return generated.stream((Q) value);
    }

    @Override
    public Object parse(InputStream stream) {
      try {
        return generated.parse(stream);
      } catch (StatusRuntimeException e) {
        Throwable cause = e.getCause() != null ? e.getCause() : e;
        return new Unparsable(StatusMapping.bounded(String.valueOf(cause.getMessage())));
      }
    }
  }
}

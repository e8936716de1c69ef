package io.jfscsi.management;

import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Message;
import io.grpc.ForwardingServerCall;
import io.grpc.ForwardingServerCallListener;
import io.grpc.Metadata;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.Status;
import io.jfscsi.Quoted;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.MDC;

/**
 * Wraps every CSI call: measures it from the request to the answer, counts its status code, and
 * puts the call's volume id and target into the logging MDC ({@code volume}, {@code target}) while
 * the handler runs on the gRPC thread and while the answer is logged. Work that the handler hands
 * to the actors runs on their threads without this MDC; their log lines name the volume in the
 * text.
 *
 * <p>Only the volume id and the target path are taken from the request: never its secrets.
 */
final class CsiCallInterceptor implements ServerInterceptor {
  private static final Logger log = LoggerFactory.getLogger(CsiCallInterceptor.class);

  static final String MDC_VOLUME = "volume";
  static final String MDC_TARGET = "target";

  private final DriverMetrics metrics;

  CsiCallInterceptor(DriverMetrics metrics) {
    this.metrics = metrics;
  }

  /** The volume and target a request names, once it has arrived. */
  private static final class Tags {
    volatile String volume;
    volatile String target;

    void capture(Object request) {
      if (request instanceof Message m) {
        volume = field(m, "volume_id", "name");
        target = field(m, "target_path", "volume_path");
      }
    }

    private static String field(Message m, String... names) {
      for (String name : names) {
        FieldDescriptor f = m.getDescriptorForType().findFieldByName(name);
        if (f != null && f.getJavaType() == FieldDescriptor.JavaType.STRING) {
          String value = (String) m.getField(f);
          if (!value.isEmpty()) {
            // Log lines carry it: a huge or hostile value is shown quoted and cut.
            boolean plain =
                value.length() <= 2 * Quoted.SHOWN
                    && value.chars().allMatch(c -> c >= 0x20 && c < 0x7f);
            return plain ? value : Quoted.of(value, 2 * Quoted.SHOWN);
          }
        }
      }
      return null;
    }

    void run(Runnable body) {
      String oldVolume = MDC.get(MDC_VOLUME);
      String oldTarget = MDC.get(MDC_TARGET);
      put(MDC_VOLUME, volume);
      put(MDC_TARGET, target);
      try {
        body.run();
      } finally {
        put(MDC_VOLUME, oldVolume);
        put(MDC_TARGET, oldTarget);
      }
    }

    private static void put(String key, String value) {
      if (value == null) {
        MDC.remove(key);
      } else {
        MDC.put(key, value);
      }
    }
  }

  @Override
  public <Q, R> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, R> call, Metadata headers, ServerCallHandler<Q, R> next) {
    String rpc = call.getMethodDescriptor().getBareMethodName();
    long start = System.nanoTime();
    Tags tags = new Tags();
    AtomicBoolean recorded = new AtomicBoolean();
    ServerCall<Q, R> observed =
        new ForwardingServerCall.SimpleForwardingServerCall<>(call) {
          @Override
          public void close(Status status, Metadata trailers) {
            finish(rpc, status, start, tags, recorded);
            super.close(status, trailers);
          }
        };
    ServerCall.Listener<Q> listener = next.startCall(observed, headers);
    return new ForwardingServerCallListener.SimpleForwardingServerCallListener<>(listener) {
      @Override
      public void onMessage(Q message) {
        tags.capture(message);
        tags.run(() -> super.onMessage(message));
      }

      @Override
      public void onHalfClose() {
        tags.run(super::onHalfClose);
      }

      @Override
      public void onCancel() {
        finish(
            rpc,
            Status.CANCELLED.withDescription("cancelled by the caller"),
            start,
            tags,
            recorded);
        tags.run(super::onCancel);
      }
    };
  }

  private void finish(String rpc, Status status, long start, Tags tags, AtomicBoolean recorded) {
    if (!recorded.compareAndSet(false, true)) {
      return;
    }
    long nanos = System.nanoTime() - start;
    metrics.recordCall(rpc, status.getCode(), nanos);
    tags.run(
        () -> {
          if (status.isOk()) {
            log.debug("{} answered OK in {} ms", rpc, nanos / 1_000_000);
          } else {
            log.info(
                "{} answered {} in {} ms: {}",
                rpc,
                status.getCode(),
                nanos / 1_000_000,
                status.getDescription());
          }
        });
  }
}

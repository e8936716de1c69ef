package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.client.http.BasicBuilder;
import io.fabric8.kubernetes.client.http.HttpRequest;
import io.fabric8.kubernetes.client.http.Interceptor;
import java.net.URI;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Counts the HTTP requests the runtime's Kubernetes client sends, by method and resource (e.g.
 * {@code PATCH pods}, {@code GET secrets}, {@code WATCH pods}), so that the cost of each operation
 * can be measured and kept low (the goal: no API read per publish in steady state).
 */
public final class RequestCounter implements Interceptor {
  private final Map<String, AtomicLong> counts = new ConcurrentHashMap<>();

  @Override
  public void before(BasicBuilder builder, HttpRequest request, RequestTags tags) {
    counts
        .computeIfAbsent(describe(request.method(), request.uri()), k -> new AtomicLong())
        .incrementAndGet();
  }

  static String describe(String method, URI uri) {
    String path = uri.getPath();
    String query = uri.getRawQuery();
    boolean watch = query != null && query.contains("watch=true");
    List<String> segs = Arrays.stream(path.split("/")).filter(x -> !x.isEmpty()).toList();
    // /api/v1/[namespaces/NS/]RESOURCE[/NAME[/SUB]] or /apis/GROUP/VERSION/...
    int i = segs.isEmpty() ? 0 : segs.getFirst().equals("api") ? 2 : 3;
    if (i < segs.size() && segs.get(i).equals("namespaces") && segs.size() > i + 2) {
      i += 2;
    }
    String resource = i < segs.size() ? segs.get(i) : "?";
    if (segs.size() > i + 2) {
      resource += "/" + segs.get(i + 2);
    }
    return (watch ? "WATCH" : method) + " " + resource;
  }

  /** A copy of the counts so far. */
  public Map<String, Long> snapshot() {
    Map<String, Long> out = new TreeMap<>();
    counts.forEach((k, v) -> out.put(k, v.get()));
    return out;
  }

  /** The counts of {@code after} minus those of {@code before}, zeros left out. */
  public static Map<String, Long> since(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> out = new TreeMap<>();
    after.forEach(
        (k, v) -> {
          long d = v - before.getOrDefault(k, 0L);
          if (d != 0) {
            out.put(k, d);
          }
        });
    return out;
  }
}

package io.jfscsi.management;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;

/**
 * Guards routes that change something. They need {@code Authorization: Bearer <token>} with the
 * token of {@code jfs-csi.management.token}; without a configured token they are refused (403)
 * whatever the request carries, so a node whose operator set nothing exposes nothing writable. A
 * missing or wrong token answers 401.
 */
public final class WriteAccess {
  private WriteAccess() {}

  public static Route requireToken(Optional<String> configured, Supplier<Route> inner) {
    return optionalHeaderValueByName(
        "Authorization",
        header -> {
          if (configured.isEmpty()) {
            return complete(
                json(
                    StatusCodes.FORBIDDEN,
                    "write routes are disabled: " + "jfs-csi.management.token is not set"));
          }
          Optional<String> presented =
              header
                  .filter(h -> h.regionMatches(true, 0, "Bearer ", 0, 7))
                  .map(h -> h.substring(7).trim());
          if (presented.isEmpty() || !sameToken(configured.get(), presented.get())) {
            return complete(
                json(
                        StatusCodes.UNAUTHORIZED,
                        presented.isEmpty()
                            ? "this route needs Authorization: Bearer <jfs-csi.management.token>"
                            : "wrong token")
                    .addHeader(RawHeader.create("WWW-Authenticate", "Bearer realm=\"jfs-csi\"")));
          }
          return inner.get();
        });
  }

  /** Compares in time independent of where the tokens differ. */
  private static boolean sameToken(String expected, String presented) {
    return MessageDigest.isEqual(
        expected.getBytes(StandardCharsets.UTF_8), presented.getBytes(StandardCharsets.UTF_8));
  }

  private static HttpResponse json(StatusCode status, String message) {
    return HttpResponse.create()
        .withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, Json.error(message));
  }
}

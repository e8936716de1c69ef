package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerBuilder;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.VersionInfo;
import java.util.ArrayList;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Kubernetes native sidecars (init containers with {@code restartPolicy: Always}, beta and on by
 * default from 1.29): used when the global ConfigMap's {@code enableNativeSidecar} is on and the
 * API server is 1.29 or newer, as the Go driver decides (it asks the API server's version at each
 * injection). kubelet then stops the clients itself once a Job's app containers have exited; an
 * older API server would drop the field and run the client as an init container that never ends.
 */
public final class NativeSidecars {
  private static final Logger log = LoggerFactory.getLogger(NativeSidecars.class);

  /** The first minor version of 1.x where native sidecars are on by default. */
  static final int FIRST_MINOR = 29;

  private static final Pattern LEADING_NUMBER = Pattern.compile("^(\\d+)");

  private final BooleanSupplier switchOn;
  private final Supplier<VersionInfo> version;
  private final AtomicReference<String> lastRefusal = new AtomicReference<>("");

  /** {@code switchOn} reads {@code enableNativeSidecar}; {@code version} asks the API server. */
  public NativeSidecars(BooleanSupplier switchOn, Supplier<VersionInfo> version) {
    this.switchOn = switchOn;
    this.version = version;
  }

  /** Never: every client is a plain container. */
  public static final NativeSidecars OFF = new NativeSidecars(() -> false, () -> null);

  /** Whether the clients of the pod being admitted now go to its init containers. */
  public boolean inUse() {
    if (!switchOn.getAsBoolean()) {
      return false;
    }
    VersionInfo v;
    try {
      v = version.get();
    } catch (KubernetesClientException e) {
      refuse("the API server's version cannot be read (" + e.getMessage() + ")");
      return false;
    }
    if (v == null || !supported(v.getMajor(), v.getMinor())) {
      refuse(
          "the API server is "
              + (v == null ? "of unknown version" : v.getGitVersion())
              + ", older than 1."
              + FIRST_MINOR);
      return false;
    }
    return true;
  }

  /** Whether API server version {@code major}.{@code minor} ("29+" on some clouds) has them. */
  static boolean supported(String major, String minor) {
    int ma = leadingNumber(major);
    int mi = leadingNumber(minor);
    return ma > 1 || (ma == 1 && mi >= FIRST_MINOR);
  }

  /**
   * {@code inits} with each client made a native sidecar and placed before the first init container
   * that mounts one of its volumes ({@code volumesOf.get(i)} for the i-th client), else after them
   * all: init containers that do not need the mount (a network set-up, say) still run before the
   * client, and those that do find it mounted.
   */
  static List<Container> place(
      List<Container> inits, List<Container> clients, List<Set<String>> volumesOf) {
    List<Container> out = new ArrayList<>(inits);
    Set<Container> placed = Collections.newSetFromMap(new IdentityHashMap<>());
    for (int i = 0; i < clients.size(); i++) {
      Container sidecar = new ContainerBuilder(clients.get(i)).withRestartPolicy("Always").build();
      int at = out.size();
      for (int j = 0; j < out.size(); j++) {
        if (!placed.contains(out.get(j)) && mountsAny(out.get(j), volumesOf.get(i))) {
          at = j;
          break;
        }
      }
      out.add(at, sidecar);
      placed.add(sidecar);
    }
    return out;
  }

  private static boolean mountsAny(Container c, Set<String> volumes) {
    return c.getVolumeMounts() != null
        && c.getVolumeMounts().stream().map(VolumeMount::getName).anyMatch(volumes::contains);
  }

  private void refuse(String why) {
    if (!why.equals(lastRefusal.getAndSet(why))) {
      log.warn(
          "enableNativeSidecar is on, but {}: JuiceFS clients are injected as plain containers",
          why);
    }
  }

  private static int leadingNumber(String s) {
    Matcher m = LEADING_NUMBER.matcher(s == null ? "" : s.strip());
    return m.find() ? Integer.parseInt(m.group(1)) : -1;
  }
}

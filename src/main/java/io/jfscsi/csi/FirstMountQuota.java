package io.jfscsi.csi;

import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.VolumeSettings;
import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The node's share of capacity, as in the Go driver: when the controller did not set a dynamic
 * volume's quota at provisioning ({@code juicefs/controller-quota-set} absent: {@code
 * enableControllerSetQuota} off, or its attempt failed), the first publish of the volume on this
 * node sets it, off the call's path and with retries, so a slow metadata engine never holds a pod
 * back. The quota is a property of the volume's directory, not of any mount, which is why no mount
 * actor owns it: each (volume, directory, size) is set once per driver process, and again after a
 * failure or a restart (setting it is idempotent).
 */
public final class FirstMountQuota {
  private static final Logger log = LoggerFactory.getLogger(FirstMountQuota.class);

  static final int ATTEMPTS = 5;

  private final MountRuntime commands;
  private final Supplier<QuotaSwitches> switches;
  private final Function<String, Optional<Long>> currentCapacity;
  private final Duration firstRetry;
  private final ExecutorService executor =
      Executors.newThreadPerTaskExecutor(Thread.ofVirtual().name("jfs-quota-", 0).factory());

  /** Quotas set or being set: a set of keys, not mount state. */
  private final Set<String> started = ConcurrentHashMap.newKeySet();

  /**
   * @param commands runs {@code juicefs quota set} on this host (the local runtime)
   * @param switches the global ConfigMap's quota switches now
   * @param currentCapacity the volume's size now (its PV's capacity after an expansion), if known
   */
  public FirstMountQuota(
      MountRuntime commands,
      Supplier<QuotaSwitches> switches,
      Function<String, Optional<Long>> currentCapacity,
      Duration firstRetry) {
    this.commands = commands;
    this.switches = switches;
    this.currentCapacity = currentCapacity;
    this.firstRetry = firstRetry;
  }

  /** Sets nothing (quotas off). */
  public static FirstMountQuota off() {
    return new FirstMountQuota(
        null, () -> new QuotaSwitches(false, false), id -> Optional.empty(), Duration.ZERO);
  }

  /** After a successful publish of {@code volume}: sets its quota if it is the node's to set. */
  void published(VolumeSettings volume) {
    Optional<Long> requested;
    try {
      requested = DirectoryQuota.requestedBytes(volume.source().context());
    } catch (Failure f) {
      // The volume is published: a capacity that is not a number costs its quota, not the pod.
      log.warn("volume {}: no quota set: {}", volume.volumeId(), f.getMessage());
      return;
    }
    if (requested.isEmpty()
        || !switches.get().setQuota()
        || DirectoryQuota.setByController(volume.source().context())) {
      return; // a static volume, quotas off, or the controller's job done
    }
    executor.execute(
        () -> {
          // The PV's size, which an expansion raised, wins over the size it was made with.
          long bytes = currentCapacity.apply(volume.volumeId()).orElse(requested.get());
          DirectoryQuota quota = DirectoryQuota.of(volume, bytes);
          String key = volume.volumeId() + " " + quota;
          if (started.add(key)) {
            set(volume, quota, key);
          }
        });
  }

  private void set(VolumeSettings volume, DirectoryQuota quota, String key) {
    Duration wait = firstRetry;
    for (int attempt = 1; ; attempt++) {
      try {
        commands.setQuota(volume, quota);
        return;
      } catch (Failure | IllegalArgumentException e) {
        if (attempt == ATTEMPTS) {
          started.remove(key); // the next publish tries again
          log.warn(
              "volume {}: quota of {} GiB on {} not set after {} attempts: {}",
              volume.volumeId(),
              quota.gibibytes(),
              quota.path(),
              attempt,
              e.getMessage());
          return;
        }
        try {
          Thread.sleep(wait);
        } catch (InterruptedException interrupted) {
          started.remove(key);
          return;
        }
        wait = wait.multipliedBy(2);
      }
    }
  }

  /** Stops retries in flight. */
  public void close() {
    executor.shutdownNow();
  }
}

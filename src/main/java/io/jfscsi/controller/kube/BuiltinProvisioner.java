package io.jfscsi.controller.kube;

import com.typesafe.config.Config;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderCallbacks;
import io.fabric8.kubernetes.client.extended.leaderelection.LeaderElectionConfigBuilder;
import io.fabric8.kubernetes.client.extended.leaderelection.resourcelock.LeaseLock;
import io.jfscsi.controller.VolumeProvisioner;
import java.io.IOException;
import java.net.InetAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The controller in cluster mode: competes for a Lease in the driver namespace and, while it holds
 * it, runs the {@link ProvisioningLoop}. Losing the Lease stops the loop at once and puts this
 * replica back among the candidates; closing releases the Lease so another replica takes over
 * without waiting for it to expire.
 */
public final class BuiltinProvisioner implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BuiltinProvisioner.class);

  /** How long close waits for the loop to stop and the lease to be released. */
  private static final Duration CLOSE_TIMEOUT = Duration.ofSeconds(30);

  private final KubernetesClient client;
  private final boolean ownsClient;
  private final ProvisionerSettings settings;
  private final String namespace;
  private final String identity;
  private final Supplier<ProvisioningLoop> loops;

  /**
   * The one thread on which this object's state changes: campaigns, fabric8's leader callbacks and
   * close are all handed to it, so they happen one at a time in the order they came, with no lock.
   */
  private final ScheduledExecutorService elections;

  private ProvisioningLoop loop;
  private CompletableFuture<?> election;
  private boolean closed;

  /** Written on the election thread, read by anyone. */
  private volatile boolean leading;

  BuiltinProvisioner(
      KubernetesClient client,
      boolean ownsClient,
      ProvisionerSettings settings,
      String namespace,
      String identity,
      Supplier<ProvisioningLoop> loops) {
    this.client = client;
    this.ownsClient = ownsClient;
    this.settings = settings;
    this.namespace = namespace;
    this.identity = identity;
    this.loops = loops;
    this.elections =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "jfs-csi-leader-election");
              t.setDaemon(true);
              return t;
            });
  }

  /**
   * Starts the built-in provisioner when {@code jfs-csi.controller.provisioner} asks for it ({@code
   * c} is the {@code jfs-csi} block); empty in sidecar mode.
   */
  public static Optional<BuiltinProvisioner> startIfConfigured(
      Config c, ActorRef<VolumeProvisioner.Command> provisioner, Scheduler scheduler)
      throws IOException {
    ProvisionerSettings settings = ProvisionerSettings.from(c, System.getenv());
    if (!settings.builtin()) {
      return Optional.empty();
    }
    KubernetesClient client = ControllerApi.create(c);
    String namespace = ControllerApi.namespace(c, client);
    String identity = InetAddress.getLocalHost().getHostName() + "_" + UUID.randomUUID();
    BuiltinProvisioner p =
        new BuiltinProvisioner(
            client,
            true,
            settings,
            namespace,
            identity,
            () -> new ProvisioningLoop(client, settings, provisioner, scheduler, identity));
    p.start();
    return Optional.of(p);
  }

  /** The API client it provisions with (the management's cluster view reads through it). */
  public KubernetesClient client() {
    return client;
  }

  void start() {
    log.info(
        "built-in provisioner: competing for lease {}/{} as {}",
        namespace,
        settings.leaseName(),
        identity);
    onElectionThread(this::campaign);
  }

  /** Runs {@code step} on the election thread; after close there is nothing left to do. */
  private void onElectionThread(Runnable step) {
    try {
      elections.execute(step);
    } catch (RejectedExecutionException e) {
      // closed: fabric8 reports the cancelled election after the thread is gone
    }
  }

  private void campaign() {
    if (closed) {
      return;
    }
    var config =
        new LeaderElectionConfigBuilder()
            .withName(settings.leaseName())
            .withLock(new LeaseLock(namespace, settings.leaseName(), identity))
            .withLeaseDuration(settings.leaseDuration())
            .withRenewDeadline(settings.renewDeadline())
            .withRetryPeriod(settings.retryPeriod())
            .withReleaseOnCancel(true)
            .withLeaderCallbacks(
                new LeaderCallbacks(
                    () -> onElectionThread(this::startLeading),
                    () -> onElectionThread(this::stopLeading),
                    leader ->
                        log.info(
                            "lease {}/{} held by {}", namespace, settings.leaseName(), leader)))
            .build();
    election = client.leaderElector().withConfig(config).build().start();
    // Lost the lease (or could not renew it): stand again after a retry period.
    election.whenComplete(
        (ok, error) ->
            onElectionThread(
                () -> {
                  if (!closed) {
                    elections.schedule(
                        this::campaign, settings.retryPeriod().toMillis(), TimeUnit.MILLISECONDS);
                  }
                }));
  }

  private void startLeading() {
    if (closed || loop != null) {
      return;
    }
    log.info("lease {}/{} acquired: this replica provisions", namespace, settings.leaseName());
    loop = loops.get();
    leading = true;
    loop.start();
  }

  private void stopLeading() {
    if (loop == null) {
      return;
    }
    log.info("lease {}/{} lost: this replica stops provisioning", namespace, settings.leaseName());
    ProvisioningLoop stopping = loop;
    loop = null;
    leading = false;
    stopping.close();
  }

  /** Whether this replica holds the lease and runs the loop now. */
  public boolean leading() {
    return leading;
  }

  @Override
  public void close() {
    Future<?> closing =
        elections.submit(
            () -> {
              closed = true;
              stopLeading();
              if (election != null) {
                election.cancel(true); // releases the lease (releaseOnCancel)
              }
            });
    try {
      closing.get(CLOSE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (ExecutionException | TimeoutException e) {
      log.warn("built-in provisioner: closing did not finish cleanly: {}", e.toString());
    }
    elections.shutdownNow();
    if (ownsClient) {
      client.close();
    }
  }
}

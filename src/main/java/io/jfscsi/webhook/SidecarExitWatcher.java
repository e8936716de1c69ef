package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.dsl.ExecWatch;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Stops the injected clients of a pod whose app containers are done ({@link SidecarExit}), so that
 * a Job's pod completes: an informer on the pods labelled {@value SidecarInjection#DONE_LABEL}=true
 * (never all pods) hands each pod to one thread, which runs the client's preStop command through
 * exec once per client and remembers it. All state lives on that thread: no lock.
 *
 * <p>A failed stop is tried again at the informer's next resync, up to {@value #ATTEMPTS} times. A
 * mount point that is not mounted counts as done, and so does an exec cut short because the client
 * exited and its container stopped under it (the stop worked).
 */
public final class SidecarExitWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(SidecarExitWatcher.class);
  static final int ATTEMPTS = 5;
  private static final long EXEC_SECONDS = 60;

  private final KubernetesClient client;
  private final ExecutorService thread;
  private final SharedIndexInformer<Pod> informer;

  /** Clients stopped, as "pod uid/container"; confined to {@link #thread}. */
  private final Set<String> stopped = new HashSet<>();

  /** Failed attempts per "pod uid/container"; confined to {@link #thread}. */
  private final Map<String, Integer> failures = new HashMap<>();

  private SidecarExitWatcher(KubernetesClient client, Duration resync) {
    this.client = client;
    this.thread =
        Executors.newSingleThreadExecutor(
            r -> Thread.ofPlatform().name("sidecar-exit").daemon().unstarted(r));
    this.informer =
        client
            .pods()
            .inAnyNamespace()
            .withLabel(SidecarInjection.DONE_LABEL, "true")
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    thread.execute(() -> consider(pod));
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {
                    thread.execute(() -> consider(pod));
                  }

                  @Override
                  public void onDelete(Pod pod, boolean unknownFinalState) {
                    thread.execute(() -> forget(pod));
                  }
                },
                resync.toMillis());
  }

  /** Watches from now on; {@code resync} is how often a failed stop is tried again. */
  public static SidecarExitWatcher start(KubernetesClient client, Duration resync) {
    return new SidecarExitWatcher(client, resync);
  }

  private void consider(Pod pod) {
    String uid = pod.getMetadata().getUid();
    for (SidecarExit.Stop stop : SidecarExit.clientsToStop(pod)) {
      String key = uid + "/" + stop.container();
      if (stopped.contains(key) || failures.getOrDefault(key, 0) >= ATTEMPTS) {
        continue;
      }
      if (run(pod, stop)) {
        stopped.add(key);
        failures.remove(key);
      } else if (failures.merge(key, 1, Integer::sum) >= ATTEMPTS) {
        log.error(
            "sidecar exit: gave up stopping client {} of pod {}/{} after {} attempts: stop it by"
                + " hand (kubectl exec ... -- its preStop command) so that the pod completes",
            stop.container(),
            pod.getMetadata().getNamespace(),
            pod.getMetadata().getName(),
            ATTEMPTS);
      }
    }
  }

  private void forget(Pod pod) {
    String prefix = pod.getMetadata().getUid() + "/";
    stopped.removeIf(k -> k.startsWith(prefix));
    failures.keySet().removeIf(k -> k.startsWith(prefix));
  }

  /**
   * Whether the client is stopped: its command exited 0, found nothing mounted, or took it down.
   */
  private boolean run(Pod pod, SidecarExit.Stop stop) {
    String ns = pod.getMetadata().getNamespace();
    String name = pod.getMetadata().getName();
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    Integer code;
    try (ExecWatch exec =
        client
            .pods()
            .inNamespace(ns)
            .withName(name)
            .inContainer(stop.container())
            .writingOutput(out)
            .writingError(out)
            .exec(stop.command().toArray(String[]::new))) {
      code = exec.exitCode().completeOnTimeout(null, EXEC_SECONDS, TimeUnit.SECONDS).join();
    } catch (CompletionException | KubernetesClientException e) {
      Optional<KubernetesClientException> refused = refusal(e);
      if (refused.isPresent()) {
        log.warn(
            "sidecar exit: stopping client {} of pod {}/{} failed: the API server answered {} {}"
                + " (the controller's account needs get and create on pods/exec)",
            stop.container(),
            ns,
            name,
            refused.get().getCode(),
            refused.get().getStatus() == null
                ? refused.get().getMessage()
                : refused.get().getStatus().getMessage());
        return false;
      }
      // The stream ends without a status when the container stops under the command.
      log.info(
          "sidecar exit: client {} of pod {}/{}: exec ended without an exit code ({}); its"
              + " status will tell",
          stop.container(),
          ns,
          name,
          e.getMessage());
      return true;
    }
    String output = out.toString(StandardCharsets.UTF_8).strip();
    if (code != null && (code == 0 || code == 137 || output.contains("not mounted"))) {
      log.info(
          "sidecar exit: stopped client {} of pod {}/{}: the app containers are done",
          stop.container(),
          ns,
          name);
      return true;
    }
    log.warn(
        "sidecar exit: stopping client {} of pod {}/{} failed ({}): {}",
        stop.container(),
        ns,
        name,
        code == null ? "no answer within " + EXEC_SECONDS + " s" : "exit code " + code,
        output.length() > 500 ? output.substring(0, 500) : output);
    return false;
  }

  /** The API server's refusal (an HTTP status) among the causes of {@code e}, if it is one. */
  private static Optional<KubernetesClientException> refusal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof KubernetesClientException k && k.getCode() >= 400) {
        return Optional.of(k);
      }
    }
    return Optional.empty();
  }

  @Override
  public void close() {
    informer.close();
    thread.shutdownNow();
  }
}

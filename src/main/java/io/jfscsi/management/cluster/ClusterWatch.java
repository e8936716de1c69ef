package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.jfscsi.management.cluster.ClusterPicture.Sources;
import io.jfscsi.management.cluster.ClusterProblems.DoctorSubject;
import io.jfscsi.management.cluster.NodeReports.NodeReport;
import io.jfscsi.runtime.kube.KubeClients;
import java.time.Clock;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import tools.jackson.databind.MapperFeature;
import tools.jackson.databind.json.JsonMapper;

/**
 * Keeps the cluster page's picture current while someone looks: informers on StorageClasses, PVs,
 * PVCs and pods (a watch, not a poll), the node plugins asked for their clients every {@link
 * #POLL}, and a new picture sent to every subscriber when anything in it changed. Started by the
 * first subscriber and stopped {@link #IDLE} after the last one left, so that a controller nobody
 * looks at keeps no copy of every pod in the cluster.
 *
 * <p>All of its state but the subscriber set is touched on its own single thread; the informers'
 * handlers only ask that thread for a rebuild.
 */
final class ClusterWatch implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(ClusterWatch.class);

  /** Changes that come together (a pod's several updates at start) make one picture. */
  static final Duration SETTLE = Duration.ofMillis(300);

  /** How often node plugins are asked for their clients (and the picture is re-checked). */
  static final Duration POLL = Duration.ofSeconds(5);

  /** How long the informers run on after the last subscriber left (a page reload comes back). */
  static final Duration IDLE = Duration.ofMinutes(2);

  private static final JsonMapper JSON =
      JsonMapper.builder().disable(MapperFeature.SORT_PROPERTIES_ALPHABETICALLY).build();

  /** A subscriber's way out. */
  interface Subscription extends AutoCloseable {
    @Override
    void close();
  }

  private final KubernetesClient client;
  private final String driver;
  private final Clock clock;
  private final NodeReports nodeReports = new NodeReports();
  private final Diagnoses diagnoses;
  private final ScheduledExecutorService thread =
      Executors.newSingleThreadScheduledExecutor(
          Thread.ofPlatform().daemon().name("cluster-watch").factory());
  private final Set<Consumer<String>> subscribers = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean rebuildAsked = new AtomicBoolean();

  // The watch thread's.
  private SharedIndexInformer<StorageClass> classes;
  private SharedIndexInformer<PersistentVolume> volumes;
  private SharedIndexInformer<PersistentVolumeClaim> claims;
  private SharedIndexInformer<Pod> pods;
  private ScheduledFuture<?> poller;
  private ScheduledFuture<?> idleStop;
  private Map<String, NodeReport> reports = Map.of();
  private String lastContent = "";
  private volatile String last;

  ClusterWatch(KubernetesClient client, String driver, Clock clock) {
    this.client = client;
    this.driver = driver;
    this.clock = clock;
    this.diagnoses = new Diagnoses(client, driver);
  }

  /**
   * Sends {@code sink} the current picture (JSON) as soon as there is one, then every changed one,
   * until the subscription is closed. {@code sink} must not block.
   */
  Subscription subscribe(Consumer<String> sink) {
    subscribers.add(sink);
    thread.execute(
        () -> {
          if (idleStop != null) {
            idleStop.cancel(false);
            idleStop = null;
          }
          start();
          String now = last;
          if (now != null) {
            sink.accept(now);
          }
        });
    return () -> {
      subscribers.remove(sink);
      thread.execute(
          () -> {
            if (subscribers.isEmpty() && poller != null && idleStop == null) {
              idleStop = thread.schedule(this::stop, IDLE.toMillis(), TimeUnit.MILLISECONDS);
            }
          });
    };
  }

  /** Whether the informers run (tests). */
  boolean running() {
    return poller != null;
  }

  @Override
  public void close() {
    thread.execute(
        () -> {
          stop();
          nodeReports.close();
        });
    thread.shutdown();
  }

  private void start() {
    if (poller != null) {
      return;
    }
    log.info("cluster page: watching StorageClasses, PVs, PVCs and pods for its viewers");
    classes = inform(client.storage().v1().storageClasses().runnableInformer(0), "StorageClasses");
    volumes = inform(client.persistentVolumes().runnableInformer(0), "PersistentVolumes");
    claims =
        inform(
            client.persistentVolumeClaims().inAnyNamespace().runnableInformer(0),
            "PersistentVolumeClaims");
    pods = inform(client.pods().inAnyNamespace().runnableInformer(0), "pods");
    poller =
        thread.scheduleWithFixedDelay(this::pollNodes, 0, POLL.toMillis(), TimeUnit.MILLISECONDS);
  }

  private <T extends HasMetadata> SharedIndexInformer<T> inform(
      SharedIndexInformer<T> informer, String what) {
    informer.addEventHandler(
        new ResourceEventHandler<T>() {
          @Override
          public void onAdd(T obj) {
            rebuildSoon();
          }

          @Override
          public void onUpdate(T oldObj, T newObj) {
            rebuildSoon();
          }

          @Override
          public void onDelete(T obj, boolean deletedFinalStateUnknown) {
            rebuildSoon();
          }
        });
    KubeClients.retryForever(informer, what + " for the cluster page");
    informer.start();
    return informer;
  }

  private void stop() {
    if (poller == null) {
      return;
    }
    log.info("cluster page: nobody looks any more; informers stopped");
    poller.cancel(false);
    poller = null;
    idleStop = null;
    for (SharedIndexInformer<?> i : List.of(classes, volumes, claims, pods)) {
      i.stop();
    }
    reports = Map.of();
    lastContent = "";
    last = null;
  }

  private void rebuildSoon() {
    if (rebuildAsked.compareAndSet(false, true)) {
      thread.schedule(
          () -> {
            rebuildAsked.set(false);
            rebuild();
          },
          SETTLE.toMillis(),
          TimeUnit.MILLISECONDS);
    }
  }

  private void pollNodes() {
    try {
      if (pods.hasSynced()) {
        reports =
            nodeReports.poll(
                pods.getStore().list().stream().filter(NodeReports::isNodePlugin).toList());
      }
      rebuild();
    } catch (RuntimeException e) {
      log.warn("cluster page: could not refresh its picture: {}", e.toString());
    }
  }

  private void rebuild() {
    if (poller == null
        || !(classes.hasSynced()
            && volumes.hasSynced()
            && claims.hasSynced()
            && pods.hasSynced())) {
      return; // not started, or the first lists are not in yet
    }
    Sources sources =
        new Sources(
            driver,
            classes.getStore().list(),
            volumes.getStore().list(),
            claims.getStore().list(),
            pods.getStore().list(),
            reports,
            clock.instant());
    Set<DoctorSubject> asked = new HashSet<>();
    Map<String, Object> picture =
        ClusterPicture.of(
            sources,
            p -> {
              DoctorSubject subject = p.subject().orElseThrow();
              asked.add(subject);
              return diagnoses.of(subject, p.what(), sources.now());
            });
    diagnoses.retain(asked);
    String generatedAt = (String) picture.remove("generatedAt");
    String content = JSON.writeValueAsString(picture);
    if (content.equals(lastContent)) {
      return;
    }
    lastContent = content;
    picture.put("generatedAt", generatedAt);
    String json = JSON.writeValueAsString(picture);
    last = json;
    for (Consumer<String> s : subscribers) {
      s.accept(json);
    }
  }
}

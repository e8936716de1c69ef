package io.jfscsi.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpsConfigurator;
import com.sun.net.httpserver.HttpsServer;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.VolumeCapability;
import io.fabric8.kubernetes.api.model.Binding;
import io.fabric8.kubernetes.api.model.BindingBuilder;
import io.fabric8.kubernetes.api.model.ConfigMap;
import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.ContainerPort;
import io.fabric8.kubernetes.api.model.ContainerState;
import io.fabric8.kubernetes.api.model.ContainerStateBuilder;
import io.fabric8.kubernetes.api.model.ContainerStateTerminated;
import io.fabric8.kubernetes.api.model.ContainerStateTerminatedBuilder;
import io.fabric8.kubernetes.api.model.ContainerStatus;
import io.fabric8.kubernetes.api.model.ContainerStatusBuilder;
import io.fabric8.kubernetes.api.model.EnvFromSource;
import io.fabric8.kubernetes.api.model.EnvVar;
import io.fabric8.kubernetes.api.model.EnvVarSource;
import io.fabric8.kubernetes.api.model.IntOrString;
import io.fabric8.kubernetes.api.model.NodeDaemonEndpointsBuilder;
import io.fabric8.kubernetes.api.model.NodeSelectorRequirement;
import io.fabric8.kubernetes.api.model.NodeSelectorTerm;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.PodCondition;
import io.fabric8.kubernetes.api.model.PodConditionBuilder;
import io.fabric8.kubernetes.api.model.PodIP;
import io.fabric8.kubernetes.api.model.PodStatus;
import io.fabric8.kubernetes.api.model.Probe;
import io.fabric8.kubernetes.api.model.Quantity;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.Volume;
import io.fabric8.kubernetes.api.model.VolumeMount;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientBuilder;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.grpc.StatusRuntimeException;
import io.jfscsi.csi.CsiClient;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.math.BigDecimal;
import java.math.RoundingMode;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.URLDecoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyStore;
import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A kubelet stand-in for one fake Node of a {@link KubeCluster}: for every pod bound to that node
 * ({@code spec.nodeName}) it runs each container's command as a LOCAL PROCESS on this host and
 * reports the pod's status through the status subresource, as kubelet would.
 *
 * <ul>
 *   <li>Processes: {@code command + args} ($(VAR) expanded), started with setsid in a process group
 *       of their own (the "container"); no image is pulled, so a container needs an explicit
 *       command; the absolute paths of a JuiceFS image's binaries in it ({@code
 *       /bin/mount.juicefs}, {@code /usr/local/bin/juicefs}) are the shim's. stdout and stderr go
 *       to a file per start, which the API server's pods/log reaches through the stand-in's kubelet
 *       port (containerLogs, with previous, tailLines, limitBytes and follow). Init containers run
 *       first, one by one.
 *   <li>Termination message: with {@code terminationMessagePolicy: FallbackToLogsOnError}, a
 *       non-zero exit puts the last 80 lines (at most 2 KiB) of that run's output in {@code
 *       state/lastState.terminated.message}, as kubelet does (no termination-log file).
 *   <li>Environment: a clean one (PATH with the test-only {@code juicefs} shim first, HOME,
 *       HOSTNAME, KUBERNETES_SERVICE_HOST/PORT of the API server) plus the container's env: value,
 *       secretKeyRef, configMapKeyRef, fieldRef, resourceFieldRef, envFrom.
 *   <li>Volumes: only hostPath volumes, which are the SAME path inside and outside (a container
 *       must mount each hostPath at the identical path, else it fails with
 *       CreateContainerConfigError). DirectoryOrCreate / FileOrCreate are created. Other volume
 *       types are ignored.
 *   <li>Restarts: a container that exits is restarted per restartPolicy (Always, OnFailure), at
 *       once the first time and then with a short backoff (CrashLoopBackOff in the status);
 *       otherwise the pod ends Succeeded or Failed. When a container's main process exits, the rest
 *       of its process group is killed, as a container runtime kills a container.
 *   <li>Probes: readiness and liveness probes of kind exec, httpGet (to 127.0.0.1) and tcpSocket.
 *       Ready also honours readinessGates.
 *   <li>Deletion: preStop exec hooks, SIGTERM to each container, the grace period, SIGKILL, then
 *       the final delete with grace period 0 (finalizers keep the object until they are removed).
 *   <li>Scheduling: there is no scheduler; a pending pod pinned to this node by a {@code
 *       kubernetes.io/hostname} nodeSelector or node affinity (or a matchFields {@code
 *       metadata.name}, as DaemonSet pods are) is bound to it.
 * </ul>
 *
 * <p>Mounts that containers leave behind are kept while the stand-in runs (a killed FUSE client
 * leaves a stale mount, as on a real node); {@link #close} kills every process it started and
 * lazily unmounts the mount points that the {@code juicefs} shim served.
 */
public final class KubeletStandIn implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(KubeletStandIn.class);
  private static final Path SETSID =
      Files.isExecutable(Path.of("/usr/bin/setsid"))
          ? Path.of("/usr/bin/setsid")
          : Path.of("/bin/setsid");
  private static final Path KILL =
      Files.isExecutable(Path.of("/usr/bin/kill"))
          ? Path.of("/usr/bin/kill")
          : Path.of("/bin/kill");
  private static final String SYSTEM_PATH =
      "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
  private static final Pattern IMAGE_BINARY =
      Pattern.compile(
          "(?<![-\\w./])((?:/usr/local|/usr)?/s?bin/(?:juicefs|mount\\.juicefs))(?![-\\w./])");
  private static final Pattern VAR_REF = Pattern.compile("\\$\\$|\\$\\(([-._a-zA-Z0-9]+)\\)");

  private final KubeCluster cluster;
  private final String nodeName;
  private final Path workDir;
  private final Path binDir;
  private final Path mountsFile;
  private final KubernetesClient client;
  private final Map<String, PodRun> runs = new ConcurrentHashMap<>();
  private final List<SharedIndexInformer<Pod>> informers = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(1)).build();
  private final Optional<String> csiEndpoint;
  private final Path kubeletRoot;
  private String csiDriverName = "csi.juicefs.com";
  private CsiClient csiConnection;
  private HttpsServer kubeletApi;
  private volatile boolean closed;
  private Thread shutdownHook;
  private Duration initialBackoff = Duration.ofMillis(500);
  private Duration maxBackoff = Duration.ofSeconds(5);

  /** A stand-in for node {@code nodeName}; {@link #start} creates the Node and begins. */
  public KubeletStandIn(KubeCluster cluster, String nodeName) {
    this(cluster, nodeName, null, null);
  }

  /**
   * A stand-in that also publishes the CSI volumes of its pods, like kubelet: for each volume that
   * is a PVC bound to a PV of driver csi.juicefs.com ({@link #withCsiDriverName}), it calls
   * NodePublishVolume on {@code csiEndpoint} (e.g. unix:///path/csi.sock) before the pod's
   * containers start, with target {@code
   * <kubeletRoot>/pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount} (parent created, target not),
   * the PV's volumeHandle, volumeAttributes, mountOptions, access mode and nodePublishSecretRef,
   * and the podInfoOnMount keys; and NodeUnpublishVolume after the containers stopped, before the
   * final delete (and, best effort, on close). NodeStage is not called: the driver does not
   * advertise STAGE_UNSTAGE_VOLUME.
   */
  public KubeletStandIn(
      KubeCluster cluster, String nodeName, String csiEndpoint, Path kubeletRoot) {
    this.cluster = Objects.requireNonNull(cluster, "cluster");
    this.nodeName = Objects.requireNonNull(nodeName, "nodeName");
    if ((csiEndpoint == null) != (kubeletRoot == null)) {
      throw new IllegalArgumentException("csiEndpoint and kubeletRoot go together");
    }
    this.csiEndpoint = Optional.ofNullable(csiEndpoint);
    this.kubeletRoot = kubeletRoot;
    try {
      Path target = Path.of(System.getProperty("user.dir"), "target");
      Path base =
          Files.isDirectory(target)
              ? target.resolve("kubelet-standin")
              : Path.of(System.getProperty("java.io.tmpdir"));
      Files.createDirectories(base);
      this.workDir = Files.createTempDirectory(base, nodeName + "-");
      this.binDir = Files.createDirectories(workDir.resolve("bin"));
      this.mountsFile = workDir.resolve("shim-mounts");
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot create the stand-in's work directory: " + e.getMessage(), e);
    }
    this.client = new KubernetesClientBuilder().withConfig(cluster.config()).build();
  }

  /** Restart backoff: the first restart is immediate, then initial, doubling up to max. */
  public KubeletStandIn withBackoff(Duration initial, Duration max) {
    this.initialBackoff = initial;
    this.maxBackoff = max;
    return this;
  }

  /**
   * kubelet's record of a CSI volume beside its target ({@code vol_data.json}), written before
   * NodePublishVolume as kubelet's csi plugin does; a driver may read the volume of a target there.
   */
  public static void writeVolData(Path target, String driver, String volumeHandle, String pvName)
      throws IOException {
    String json =
        new tools.jackson.databind.ObjectMapper()
            .writeValueAsString(
                java.util.Map.of(
                    "driverName", driver,
                    "volumeHandle", volumeHandle,
                    "specVolID", pvName,
                    "volumeLifecycleMode", "Persistent"));
    Files.writeString(target.getParent().resolve("vol_data.json"), json);
  }

  /** Where a pod's CSI volume is published: kubelet's target path for PV {@code pvName}. */
  public Path csiTarget(String podUid, String pvName) {
    if (kubeletRoot == null) {
      throw new IllegalStateException("this stand-in publishes no CSI volumes");
    }
    return kubeletRoot
        .resolve("pods")
        .resolve(podUid)
        .resolve("volumes")
        .resolve("kubernetes.io~csi")
        .resolve(pvName)
        .resolve("mount");
  }

  /** Creates the Node (Ready), installs the shim and starts watching the node's pods. */
  public synchronized KubeletStandIn start() {
    if (closed) {
      throw new IllegalStateException("closed");
    }
    installShim();
    cluster.createNode(nodeName);
    startKubeletApi();
    shutdownHook = new Thread(this::close, "kubelet-standin-" + nodeName + "-exit");
    Runtime.getRuntime().addShutdownHook(shutdownHook);
    informers.add(
        client
            .pods()
            .inAnyNamespace()
            .withField("spec.nodeName", nodeName)
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    podChanged(pod);
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {
                    podChanged(pod);
                  }

                  @Override
                  public void onDelete(Pod pod, boolean finalStateUnknown) {
                    podGone(pod);
                  }
                },
                0));
    informers.add(
        client
            .pods()
            .inAnyNamespace()
            .withField("spec.nodeName", "")
            .inform(
                new ResourceEventHandler<>() {
                  @Override
                  public void onAdd(Pod pod) {
                    maybeBind(pod);
                  }

                  @Override
                  public void onUpdate(Pod old, Pod pod) {
                    maybeBind(pod);
                  }

                  @Override
                  public void onDelete(Pod pod, boolean finalStateUnknown) {}
                },
                0));
    log.info("kubelet stand-in for node {} started (work dir {})", nodeName, workDir);
    return this;
  }

  public String nodeName() {
    return nodeName;
  }

  /** Logs, the shim and per-pod files live here (kept after close, for diagnosis). */
  public Path workDir() {
    return workDir;
  }

  /** SIGKILLs the (first) container of pod {@code namespace/podName}, as if it crashed. */
  public void crash(String namespace, String podName) {
    crash(namespace, podName, null);
  }

  /** SIGKILLs container {@code container} (null: the first) of pod {@code namespace/podName}. */
  public void crash(String namespace, String podName, String container) {
    ContainerRun c =
        containerRun(namespace, podName, container)
            .orElseThrow(
                () ->
                    new IllegalStateException(
                        "no container "
                            + container
                            + " of pod "
                            + namespace
                            + "/"
                            + podName
                            + " is known to the stand-in of "
                            + nodeName));
    long pid = c.pid;
    if (pid <= 0 || c.process == null || !c.process.isAlive()) {
      throw new IllegalStateException(
          "container " + c.name + " of pod " + namespace + "/" + podName + " is not running");
    }
    log.info("crashing container {} of pod {}/{} (pid {})", c.name, namespace, podName, pid);
    killTree(c, "KILL");
  }

  /** The pid of a running container's main process. */
  public Optional<Long> pid(String namespace, String podName, String container) {
    return containerRun(namespace, podName, container)
        .filter(c -> c.process != null && c.process.isAlive())
        .map(c -> c.pid);
  }

  /** The log of a container so far, all its starts by this stand-in ("" when there is none). */
  public String logs(String namespace, String podName, String container) {
    Optional<ContainerRun> c = containerRun(namespace, podName, container);
    if (c.isEmpty()) {
      return "";
    }
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < c.get().starts; i++) {
      try {
        Path f = c.get().logOfStart(i);
        if (Files.exists(f)) {
          b.append(Files.readString(f));
        }
      } catch (IOException e) {
        // a log being rotated away: skip
      }
    }
    return b.toString();
  }

  /** Stops watching, kills every process it started, unmounts what the shim mounted. */
  @Override
  public void close() {
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
    }
    for (SharedIndexInformer<Pod> informer : informers) {
      try {
        informer.stop();
      } catch (RuntimeException e) {
        log.debug("stopping an informer: {}", e.toString());
      }
    }
    for (PodRun run : runs.values()) {
      run.stop();
    }
    for (PodRun run : runs.values()) {
      run.join(Duration.ofSeconds(20));
    }
    runs.clear();
    if (kubeletApi != null) {
      kubeletApi.stop(0);
    }
    unmountShimMounts();
    synchronized (this) {
      if (csiConnection != null) {
        csiConnection.close();
      }
    }
    client.close();
    if (shutdownHook != null && Thread.currentThread() != shutdownHook) {
      try {
        Runtime.getRuntime().removeShutdownHook(shutdownHook);
      } catch (IllegalStateException e) {
        // the JVM is already shutting down
      }
    }
    log.info("kubelet stand-in for node {} stopped", nodeName);
  }

  // ------------------------------------------------------------------ informer callbacks

  private void podChanged(Pod pod) {
    if (closed || !nodeName.equals(pod.getSpec().getNodeName())) {
      return;
    }
    String uid = pod.getMetadata().getUid();
    PodRun run =
        runs.computeIfAbsent(
            uid,
            u -> {
              PodRun r = new PodRun(pod);
              r.begin();
              return r;
            });
    run.update(pod);
  }

  private void podGone(Pod pod) {
    PodRun run = runs.get(pod.getMetadata().getUid());
    if (run != null) {
      run.gone();
    }
  }

  private void maybeBind(Pod pod) {
    if (closed
        || pod.getSpec().getNodeName() != null && !pod.getSpec().getNodeName().isEmpty()
        || pod.getMetadata().getDeletionTimestamp() != null
        || !pinnedHere(pod)) {
      return;
    }
    String scheduler = pod.getSpec().getSchedulerName();
    if (scheduler != null && !scheduler.equals("default-scheduler")) {
      return;
    }
    Binding binding =
        new BindingBuilder()
            .withNewMetadata()
            .withName(pod.getMetadata().getName())
            .withNamespace(pod.getMetadata().getNamespace())
            .withUid(pod.getMetadata().getUid())
            .endMetadata()
            .withNewTarget()
            .withApiVersion("v1")
            .withKind("Node")
            .withName(nodeName)
            .endTarget()
            .build();
    try {
      client.bindings().inNamespace(pod.getMetadata().getNamespace()).resource(binding).create();
      log.debug(
          "bound pod {}/{} to {}",
          pod.getMetadata().getNamespace(),
          pod.getMetadata().getName(),
          nodeName);
    } catch (KubernetesClientException e) {
      log.debug(
          "binding pod {}/{}: {}",
          pod.getMetadata().getNamespace(),
          pod.getMetadata().getName(),
          e.getMessage());
    }
  }

  private boolean pinnedHere(Pod pod) {
    Map<String, String> selector = pod.getSpec().getNodeSelector();
    if (selector != null && nodeName.equals(selector.get("kubernetes.io/hostname"))) {
      return true;
    }
    var affinity = pod.getSpec().getAffinity();
    if (affinity == null
        || affinity.getNodeAffinity() == null
        || affinity.getNodeAffinity().getRequiredDuringSchedulingIgnoredDuringExecution() == null) {
      return false;
    }
    for (NodeSelectorTerm term :
        affinity
            .getNodeAffinity()
            .getRequiredDuringSchedulingIgnoredDuringExecution()
            .getNodeSelectorTerms()) {
      List<NodeSelectorRequirement> reqs = new ArrayList<>();
      if (term.getMatchFields() != null) {
        term.getMatchFields().stream()
            .filter(r -> r.getKey().equals("metadata.name"))
            .forEach(reqs::add);
      }
      if (term.getMatchExpressions() != null) {
        term.getMatchExpressions().stream()
            .filter(r -> r.getKey().equals("kubernetes.io/hostname"))
            .forEach(reqs::add);
      }
      if (!reqs.isEmpty()
          && reqs.stream()
              .allMatch(r -> "In".equals(r.getOperator()) && r.getValues().contains(nodeName))) {
        return true;
      }
    }
    return false;
  }

  private Optional<ContainerRun> containerRun(String namespace, String podName, String container) {
    return runs.values().stream()
        .filter(r -> r.namespace.equals(namespace) && r.name.equals(podName) && !r.isGone())
        .findFirst()
        .flatMap(
            r ->
                r.containers.stream()
                    .filter(c -> container == null || c.name.equals(container))
                    .findFirst());
  }

  // ------------------------------------------------------------------ one pod

  private enum Signal {
    UPDATE,
    EXIT,
    GONE,
    STOP
  }

  /** One pod's containers, driven by one worker thread that alone changes its state. */
  private final class PodRun {
    final String uid;
    final String namespace;
    final String name;
    final Path podDir;
    final List<ContainerRun> initContainers = new ArrayList<>();
    final List<ContainerRun> containers = new ArrayList<>();
    final LinkedBlockingQueue<Signal> signals = new LinkedBlockingQueue<>();
    final Map<String, PodCondition> conditions = new LinkedHashMap<>();
    volatile Pod latest;
    volatile boolean gone;
    volatile boolean stopping;
    Thread worker;
    String startTime;
    int initIndex;
    boolean initFailed;
    boolean terminated;
    boolean finalDeleteSent;
    PodStatus lastWritten;
    boolean finishedBefore;
    final Map<String, String> published = new LinkedHashMap<>(); // PV name -> volume handle
    Instant nextVolumeTry;
    String volumeMessage;
    int volumeFailures;

    PodRun(Pod pod) {
      this.latest = pod;
      this.uid = pod.getMetadata().getUid();
      this.namespace = pod.getMetadata().getNamespace();
      this.name = pod.getMetadata().getName();
      this.podDir = workDir.resolve("pods").resolve(namespace + "_" + name + "_" + uid);
      for (Container c : Optional.ofNullable(pod.getSpec().getInitContainers()).orElse(List.of())) {
        initContainers.add(new ContainerRun(c, podDir.resolve(c.getName() + ".log"), true));
      }
      for (Container c : pod.getSpec().getContainers()) {
        containers.add(new ContainerRun(c, podDir.resolve(c.getName() + ".log"), false));
      }
      // A pod seen for the first time with a status: another stand-in ran it before (the node
      // "rebooted"). A finished pod stays finished; a running one restarts, counting it.
      PodStatus seen = pod.getStatus();
      String phase = seen == null ? null : seen.getPhase();
      finishedBefore = "Succeeded".equals(phase) || "Failed".equals(phase);
      if (seen != null && seen.getContainerStatuses() != null) {
        for (ContainerStatus st : seen.getContainerStatuses()) {
          containers.stream()
              .filter(c -> c.name.equals(st.getName()))
              .findFirst()
              .ifPresent(
                  c -> {
                    if (st.getState() != null
                        && (st.getState().getRunning() != null
                            || st.getState().getTerminated() != null)) {
                      c.restartCount = Optional.ofNullable(st.getRestartCount()).orElse(0) + 1;
                    }
                  });
        }
      }
      if (finishedBefore) {
        initIndex = initContainers.size();
        lastWritten = null;
      }
    }

    void begin() {
      worker =
          Thread.ofPlatform()
              .daemon()
              .name("kubelet-standin-" + nodeName + "-" + namespace + "-" + name)
              .start(this::loop);
    }

    void update(Pod pod) {
      latest = pod;
      signals.add(Signal.UPDATE);
    }

    void gone() {
      gone = true;
      signals.add(Signal.GONE);
    }

    boolean isGone() {
      return gone;
    }

    void stop() {
      stopping = true;
      signals.add(Signal.STOP);
    }

    void join(Duration timeout) {
      try {
        if (worker != null && !worker.join(timeout)) {
          worker.interrupt(); // a blocking CSI call or probe
          worker.join(Duration.ofSeconds(10));
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    private void loop() {
      try {
        Files.createDirectories(podDir);
        while (!stopping) {
          if (gone) {
            killAll(Duration.ofSeconds(2));
            break;
          }
          try {
            reconcile();
          } catch (KubernetesClientException e) {
            if (!stopping && !closed) {
              log.warn("pod {}/{}: API error: {}", namespace, name, e.getMessage());
            }
          }
          long wait = nextWakeMillis();
          signals.poll(wait, TimeUnit.MILLISECONDS);
          signals.clear();
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (Throwable t) {
        log.error("pod {}/{}: the stand-in's worker failed", namespace, name, t);
      } finally {
        killAll(Duration.ofSeconds(2));
        unmountVolumes(Instant.now().plusSeconds(10));
        runs.remove(uid, this);
      }
    }

    private long nextWakeMillis() {
      Instant now = Instant.now();
      Instant next = now.plusSeconds(5);
      if (nextVolumeTry != null && nextVolumeTry.isBefore(next)) {
        next = nextVolumeTry;
      }
      for (ContainerRun c : allContainers()) {
        for (Instant t : new Instant[] {c.nextStartAt, c.nextReadinessProbe, c.nextLivenessProbe}) {
          if (t != null && t.isBefore(next)) {
            next = t;
          }
        }
        if (c.process != null && c.process.isAlive()) {
          // exits arrive as signals; this is a safety net
        }
      }
      return Math.max(10, Duration.between(now, next).toMillis());
    }

    private List<ContainerRun> allContainers() {
      List<ContainerRun> all = new ArrayList<>(initContainers);
      all.addAll(containers);
      return all;
    }

    private String restartPolicy() {
      return Optional.ofNullable(latest.getSpec().getRestartPolicy()).orElse("Always");
    }

    private void reconcile() {
      Pod pod = latest;
      if (startTime == null) {
        startTime = timestamp(Instant.now());
      }
      for (ContainerRun c : allContainers()) {
        c.collectExit();
      }
      if (pod.getMetadata().getDeletionTimestamp() != null) {
        if (finishedBefore) {
          terminated = true;
          lastWritten = statusOf(pod); // keep the status the previous stand-in wrote
        }
        terminate(pod);
        return;
      }
      if (finishedBefore) {
        return;
      }
      if (!terminal() && mountVolumes(pod)) {
        runInitContainers(pod);
        if (initDone()) {
          for (ContainerRun c : containers) {
            c.step(pod, this, restartPolicy(), false);
          }
        }
        for (ContainerRun c : containers) {
          c.probe(this);
        }
      }
      writeStatus(pod);
    }

    /** Publishes the pod's CSI volumes (true when all are); on failure retries later. */
    private boolean mountVolumes(Pod pod) {
      if (csiEndpoint.isEmpty()) {
        return true;
      }
      if (nextVolumeTry != null && Instant.now().isBefore(nextVolumeTry)) {
        return false;
      }
      try {
        for (Volume v : Optional.ofNullable(pod.getSpec().getVolumes()).orElse(List.of())) {
          if (v.getPersistentVolumeClaim() != null) {
            publish(pod, v);
          }
        }
        volumeMessage = null;
        nextVolumeTry = null;
        volumeFailures = 0;
        return true;
      } catch (RuntimeException e) {
        volumeFailures++;
        volumeMessage = e.getMessage();
        nextVolumeTry = Instant.now().plusMillis(Math.min(5000, 500L * volumeFailures));
        log.info("pod {}/{}: {}", namespace, name, volumeMessage);
        return false;
      }
    }

    private void publish(Pod pod, Volume v) {
      String claimName = v.getPersistentVolumeClaim().getClaimName();
      var pvc = client.persistentVolumeClaims().inNamespace(namespace).withName(claimName).get();
      require(pvc != null, "persistentvolumeclaim \"" + claimName + "\" not found");
      String pvName = pvc.getSpec().getVolumeName();
      require(
          pvName != null
              && !pvName.isEmpty()
              && pvc.getStatus() != null
              && "Bound".equals(pvc.getStatus().getPhase()),
          "persistentvolumeclaim \"" + claimName + "\" is not bound");
      if (published.containsKey(pvName)) {
        return;
      }
      var pv = client.persistentVolumes().withName(pvName).get();
      require(pv != null, "persistentvolume \"" + pvName + "\" not found");
      var source = pv.getSpec().getCsi();
      if (source == null || !csiDriverName.equals(source.getDriver())) {
        return; // not ours: nothing to mount on this stand-in
      }
      Map<String, String> context =
          new LinkedHashMap<>(Optional.ofNullable(source.getVolumeAttributes()).orElse(Map.of()));
      var driver = client.storage().v1().csiDrivers().withName(csiDriverName).get();
      if (driver != null && Boolean.TRUE.equals(driver.getSpec().getPodInfoOnMount())) {
        context.put("csi.storage.k8s.io/pod.name", name);
        context.put("csi.storage.k8s.io/pod.namespace", namespace);
        context.put("csi.storage.k8s.io/pod.uid", uid);
        context.put(
            "csi.storage.k8s.io/serviceAccount.name",
            Optional.ofNullable(pod.getSpec().getServiceAccountName()).orElse("default"));
        context.put("csi.storage.k8s.io/ephemeral", "false");
      }
      Map<String, String> secrets = Map.of();
      if (source.getNodePublishSecretRef() != null) {
        var ref = source.getNodePublishSecretRef();
        String secretNs = Optional.ofNullable(ref.getNamespace()).orElse(namespace);
        Secret secret = client.secrets().inNamespace(secretNs).withName(ref.getName()).get();
        require(
            secret != null,
            "secret \""
                + secretNs
                + "/"
                + ref.getName()
                + "\" not found (nodePublishSecretRef of "
                + pvName
                + ")");
        secrets = secretData(secret);
      }
      String mode =
          Optional.ofNullable(pv.getSpec().getAccessModes())
              .filter(l -> !l.isEmpty())
              .map(List::getFirst)
              .orElse("ReadWriteOnce");
      var accessMode =
          switch (mode) {
            case "ReadWriteMany" -> VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER;
            case "ReadOnlyMany" -> VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY;
            default -> VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER;
          };
      var mount =
          VolumeCapability.MountVolume.newBuilder()
              .setFsType(Optional.ofNullable(source.getFsType()).orElse(""))
              .addAllMountFlags(
                  Optional.ofNullable(pv.getSpec().getMountOptions()).orElse(List.of()));
      boolean readOnly =
          Boolean.TRUE.equals(v.getPersistentVolumeClaim().getReadOnly())
              || Boolean.TRUE.equals(source.getReadOnly());
      Path target = csiTarget(uid, pvName);
      try {
        Files.createDirectories(target.getParent());
        writeVolData(target, source.getDriver(), source.getVolumeHandle(), pvName);
      } catch (IOException e) {
        throw new IllegalStateException(
            "cannot create " + target.getParent() + ": " + e.getMessage());
      }
      var request =
          NodePublishVolumeRequest.newBuilder()
              .setVolumeId(source.getVolumeHandle())
              .setTargetPath(target.toString())
              .setReadonly(readOnly)
              .putAllSecrets(secrets)
              .putAllVolumeContext(context)
              .setVolumeCapability(
                  VolumeCapability.newBuilder()
                      .setMount(mount)
                      .setAccessMode(VolumeCapability.AccessMode.newBuilder().setMode(accessMode)))
              .build();
      try {
        csiClient().node().withDeadlineAfter(2, TimeUnit.MINUTES).nodePublishVolume(request);
      } catch (StatusRuntimeException e) {
        throw new IllegalStateException(
            "MountVolume.SetUp failed for volume \""
                + pvName
                + "\" : rpc error: code = "
                + e.getStatus().getCode()
                + " desc = "
                + e.getStatus().getDescription());
      }
      published.put(pvName, source.getVolumeHandle());
      log.info("pod {}/{}: published volume {} at {}", namespace, name, pvName, target);
    }

    /** Unpublishes every published CSI volume; true when none is left. */
    boolean unmountVolumes(Instant deadline) {
      for (var e : new ArrayList<>(published.entrySet())) {
        Path target = csiTarget(uid, e.getKey());
        try {
          long millis = Math.max(1000, Duration.between(Instant.now(), deadline).toMillis());
          csiClient()
              .node()
              .withDeadlineAfter(millis, TimeUnit.MILLISECONDS)
              .nodeUnpublishVolume(
                  NodeUnpublishVolumeRequest.newBuilder()
                      .setVolumeId(e.getValue())
                      .setTargetPath(target.toString())
                      .build());
          published.remove(e.getKey());
          try {
            // As kubelet's csi plugin after TearDown: its record, then the volume's directory.
            Files.deleteIfExists(target.getParent().resolve("vol_data.json"));
            Files.deleteIfExists(target.getParent());
          } catch (IOException ignored) {
            // not empty: left for diagnosis
          }
          log.info("pod {}/{}: unpublished volume {}", namespace, name, e.getKey());
        } catch (RuntimeException ex) {
          log.warn(
              "pod {}/{}: UnmountVolume.TearDown failed for volume {}: {}",
              namespace,
              name,
              e.getKey(),
              ex.getMessage());
        }
      }
      return published.isEmpty();
    }

    private void runInitContainers(Pod pod) {
      while (initIndex < initContainers.size() && !initFailed) {
        ContainerRun c = initContainers.get(initIndex);
        if (c.running()) {
          return;
        }
        if (c.terminated != null) {
          if (c.terminated.getExitCode() == 0) {
            initIndex++;
            continue;
          }
          if (restartPolicy().equals("Never")) {
            initFailed = true;
            return;
          }
        }
        c.step(pod, this, "OnFailure", true);
        return;
      }
    }

    private boolean initDone() {
      return initIndex >= initContainers.size();
    }

    boolean terminal() {
      return initFailed || !containers.isEmpty() && containers.stream().allMatch(c -> c.done);
    }

    private String phase() {
      if (initFailed) {
        return "Failed";
      }
      if (terminal()) {
        return containers.stream()
                .allMatch(c -> c.terminated != null && c.terminated.getExitCode() == 0)
            ? "Succeeded"
            : "Failed";
      }
      if (!initDone() || containers.stream().allMatch(c -> c.startedAt == null)) {
        return "Pending";
      }
      return "Running";
    }

    /** Deletion: preStop, SIGTERM, grace, SIGKILL, status, then the final delete. */
    private void terminate(Pod pod) {
      if (!terminated) {
        long grace =
            Optional.ofNullable(pod.getMetadata().getDeletionGracePeriodSeconds())
                .or(() -> Optional.ofNullable(pod.getSpec().getTerminationGracePeriodSeconds()))
                .orElse(30L);
        Instant deadline = Instant.now().plusSeconds(grace);
        for (ContainerRun c : allContainers()) {
          if (c.running()) {
            c.preStop(this, deadline);
          }
        }
        for (ContainerRun c : allContainers()) {
          if (c.running()) {
            killTree(c, "TERM");
          }
        }
        awaitExits(deadline);
        killAll(Duration.ofSeconds(2));
        for (ContainerRun c : allContainers()) {
          c.collectExit();
          c.done = true;
          c.nextStartAt = null;
        }
        terminated = true;
        writeStatus(pod);
      }
      // Kubelet deletes the object only once its volumes are unmounted.
      while (!unmountVolumes(Instant.now().plusSeconds(120)) && !stopping && !gone) {
        sleep(1000);
      }
      if (!finalDeleteSent) {
        finalDeleteSent = true;
        try {
          client.pods().inNamespace(namespace).withName(name).withGracePeriod(0).delete();
        } catch (KubernetesClientException e) {
          log.debug("final delete of pod {}/{}: {}", namespace, name, e.getMessage());
        }
      }
    }

    private void awaitExits(Instant deadline) {
      while (Instant.now().isBefore(deadline)
          && !stopping
          && !gone
          && allContainers().stream().anyMatch(ContainerRun::running)) {
        try {
          signals.poll(50, TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        }
      }
    }

    /** SIGTERM every container, then SIGKILL what is left after {@code grace}. */
    void killAll(Duration grace) {
      List<ContainerRun> alive = allContainers().stream().filter(ContainerRun::running).toList();
      if (alive.isEmpty()) {
        return;
      }
      alive.forEach(c -> killTree(c, "TERM"));
      Instant deadline = Instant.now().plus(grace);
      while (Instant.now().isBefore(deadline) && alive.stream().anyMatch(ContainerRun::running)) {
        sleep(20);
      }
      for (ContainerRun c : alive) {
        killTree(c, "KILL");
        try {
          c.process.waitFor(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        c.collectExit();
      }
    }

    private void writeStatus(Pod pod) {
      PodStatus status = statusOf(pod);
      if (status.equals(lastWritten)) {
        return;
      }
      for (int attempt = 0; attempt < 10 && !stopping; attempt++) {
        Pod fresh = client.pods().inNamespace(namespace).withName(name).get();
        if (fresh == null || !uid.equals(fresh.getMetadata().getUid())) {
          return;
        }
        PodStatus merged = merge(fresh.getStatus(), status);
        fresh.setStatus(merged);
        try {
          client.pods().inNamespace(namespace).resource(fresh).updateStatus();
          lastWritten = status;
          return;
        } catch (KubernetesClientException e) {
          if (e.getCode() == 404) {
            return;
          }
          if (e.getCode() != 409) {
            throw e;
          }
        }
      }
    }

    private PodStatus merge(PodStatus current, PodStatus ours) {
      PodStatus s = current == null ? new PodStatus() : current;
      s.setPhase(ours.getPhase());
      s.setHostIP(ours.getHostIP());
      s.setPodIP(ours.getPodIP());
      s.setPodIPs(ours.getPodIPs());
      s.setStartTime(ours.getStartTime());
      s.setContainerStatuses(ours.getContainerStatuses());
      s.setInitContainerStatuses(ours.getInitContainerStatuses());
      Set<String> mine = Set.of("PodScheduled", "Initialized", "ContainersReady", "Ready");
      List<PodCondition> conds = new ArrayList<>(ours.getConditions());
      if (s.getConditions() != null) {
        s.getConditions().stream().filter(c -> !mine.contains(c.getType())).forEach(conds::add);
      }
      s.setConditions(conds);
      return s;
    }

    private PodStatus statusOf(Pod pod) {
      PodStatus s = new PodStatus();
      String phase = phase();
      s.setPhase(phase);
      s.setHostIP("127.0.0.1");
      s.setPodIP("127.0.0.1");
      s.setPodIPs(List.of(new PodIP("127.0.0.1")));
      s.setStartTime(startTime);
      s.setInitContainerStatuses(initContainers.stream().map(ContainerRun::status).toList());
      s.setContainerStatuses(containers.stream().map(ContainerRun::status).toList());
      boolean containersReady =
          !terminal()
              && !terminated
              && initDone()
              && containers.stream().allMatch(c -> c.running() && c.ready);
      boolean gatesReady =
          Optional.ofNullable(pod.getSpec().getReadinessGates()).orElse(List.of()).stream()
              .allMatch(
                  g ->
                      Optional.ofNullable(pod.getStatus())
                          .map(PodStatus::getConditions)
                          .orElse(List.of())
                          .stream()
                          .anyMatch(
                              c ->
                                  c.getType().equals(g.getConditionType())
                                      && "True".equals(c.getStatus())));
      String notReadyReason = terminal() || terminated ? "PodCompleted" : "ContainersNotReady";
      condition("PodScheduled", true, null);
      condition("Initialized", initDone(), initDone() ? null : "ContainersNotInitialized");
      condition("ContainersReady", containersReady, containersReady ? null : notReadyReason);
      condition(
          "Ready",
          containersReady && gatesReady,
          containersReady && gatesReady
              ? null
              : containersReady ? "ReadinessGatesNotReady" : notReadyReason);
      s.setConditions(new ArrayList<>(conditions.values()));
      return s;
    }

    private void condition(String type, boolean value, String reason) {
      String status = value ? "True" : "False";
      PodCondition old = conditions.get(type);
      if (old != null
          && old.getStatus().equals(status)
          && Objects.equals(old.getReason(), reason)) {
        return;
      }
      String since =
          old != null && old.getStatus().equals(status)
              ? old.getLastTransitionTime()
              : timestamp(Instant.now());
      conditions.put(
          type,
          new PodConditionBuilder()
              .withType(type)
              .withStatus(status)
              .withReason(reason)
              .withLastTransitionTime(since)
              .build());
    }
  }

  // ------------------------------------------------------------------ one container

  private final class ContainerRun {
    final String name;
    final Container spec;
    final Path logFile;
    final boolean init;
    Process process;
    long pid;
    Instant startedAt;
    int restartCount;
    int starts;
    ContainerStateTerminated terminated;
    ContainerStateTerminated lastTerminated;
    String waitingReason = "ContainerCreating";
    String waitingMessage;
    Instant nextStartAt;
    boolean done;
    boolean ready;
    Instant nextReadinessProbe;
    Instant nextLivenessProbe;
    int livenessFailures;
    int configFailures;

    ContainerRun(Container spec, Path logFile, boolean init) {
      this.name = spec.getName();
      this.spec = spec;
      this.logFile = logFile;
      this.init = init;
    }

    /** The log of start {@code n} (0 is the first start by this stand-in). */
    Path logOfStart(int n) {
      return logFile.resolveSibling(name + "." + n + ".log");
    }

    /** The log of the current (or last) start. */
    Path currentLog() {
      return logOfStart(Math.max(0, starts - 1));
    }

    boolean running() {
      return process != null && process.isAlive();
    }

    /** Records the exit of the main process (and kills the rest of its group). */
    void collectExit() {
      if (process == null || process.isAlive()) {
        return;
      }
      int code = process.exitValue();
      killGroup(pid, "KILL");
      terminated =
          new ContainerStateTerminatedBuilder()
              .withExitCode(code)
              .withReason(code == 0 ? "Completed" : "Error")
              .withMessage(terminationMessage(code))
              .withStartedAt(timestamp(startedAt))
              .withFinishedAt(timestamp(Instant.now()))
              .withContainerID(containerId())
              .build();
      log.info("container {} (pid {}) exited with {}", name, pid, code);
      process = null;
      ready = false;
      nextReadinessProbe = null;
      nextLivenessProbe = null;
    }

    /**
     * The termination message, as kubelet makes it: no file at terminationMessagePath is written
     * here (the container runs on the host), so only the FallbackToLogsOnError policy gives one: on
     * a non-zero exit, the last 80 lines of this run's output, at most the last 2 KiB of them.
     */
    private String terminationMessage(int code) {
      if (code == 0 || !"FallbackToLogsOnError".equals(spec.getTerminationMessagePolicy())) {
        return null;
      }
      try {
        Path log = currentLog(); // this run's own file
        String out = Files.exists(log) ? Files.readString(log) : "";
        List<String> lines = new ArrayList<>(List.of(out.split("\n", -1)));
        if (!lines.isEmpty() && lines.getLast().isEmpty()) {
          lines.removeLast();
        }
        String tail =
            String.join("\n", lines.subList(Math.max(0, lines.size() - 80), lines.size()))
                + (lines.isEmpty() ? "" : "\n");
        byte[] bytes = tail.getBytes(StandardCharsets.UTF_8);
        if (bytes.length > 2048) {
          tail = new String(bytes, bytes.length - 2048, 2048, StandardCharsets.UTF_8);
        }
        return tail.isEmpty() ? null : tail;
      } catch (IOException e) {
        return null;
      }
    }

    /** Starts or restarts the container when it should run now. */
    void step(Pod pod, PodRun run, String restartPolicy, boolean initContainer) {
      if (running() || done) {
        return;
      }
      if (terminated != null) {
        boolean restart =
            switch (restartPolicy) {
              case "Always" -> !initContainer;
              case "OnFailure" -> terminated.getExitCode() != 0;
              default -> false;
            };
        if (initContainer) {
          restart = terminated.getExitCode() != 0;
        }
        if (!restart) {
          done = !initContainer;
          nextStartAt = null;
          return;
        }
        if (nextStartAt == null) {
          nextStartAt = Instant.now().plus(backoff(restartCount + 1));
          waitingReason = "CrashLoopBackOff";
          waitingMessage = "back-off restarting failed container " + name;
        }
      }
      if (nextStartAt != null && Instant.now().isBefore(nextStartAt)) {
        return;
      }
      start(pod, run);
    }

    private Duration backoff(int restart) {
      if (restart <= 1) {
        return Duration.ZERO;
      }
      long millis = initialBackoff.toMillis() << Math.min(20, restart - 2);
      return Duration.ofMillis(Math.min(millis, maxBackoff.toMillis()));
    }

    private void start(Pod pod, PodRun run) {
      Map<String, String> env;
      List<String> argv;
      try {
        checkVolumes(pod);
        env = environment(pod, spec);
        argv = imageBinaries(commandLine(spec, env));
      } catch (RuntimeException e) {
        configFailures++;
        waitingReason = "CreateContainerConfigError";
        waitingMessage = e.getMessage();
        nextStartAt = Instant.now().plus(Duration.ofMillis(Math.min(5000, 200L * configFailures)));
        log.warn("pod {}/{} container {}: {}", run.namespace, run.name, name, e.getMessage());
        return;
      }
      configFailures = 0;
      List<String> command = new ArrayList<>(argv.size() + 1);
      command.add(SETSID.toString());
      command.addAll(argv);
      ProcessBuilder b = new ProcessBuilder(command);
      b.environment().clear();
      b.environment().putAll(env);
      Path dir =
          spec.getWorkingDir() != null && Files.isDirectory(Path.of(spec.getWorkingDir()))
              ? Path.of(spec.getWorkingDir())
              : run.podDir;
      b.directory(dir.toFile());
      b.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
      b.redirectErrorStream(true);
      b.redirectOutput(ProcessBuilder.Redirect.appendTo(logOfStart(starts).toFile()));
      if (terminated != null) {
        lastTerminated = terminated;
        restartCount++;
      }
      try {
        process = b.start();
      } catch (IOException e) {
        process = null;
        terminated =
            new ContainerStateTerminatedBuilder()
                .withExitCode(128)
                .withReason("ContainerCannotRun")
                .withMessage(e.getMessage())
                .withStartedAt(timestamp(Instant.now()))
                .withFinishedAt(timestamp(Instant.now()))
                .build();
        return;
      }
      pid = process.pid();
      starts++;
      startedAt = Instant.now();
      terminated = null;
      waitingReason = null;
      waitingMessage = null;
      nextStartAt = null;
      livenessFailures = 0;
      Probe readiness = spec.getReadinessProbe();
      ready = readiness == null;
      nextReadinessProbe =
          readiness == null
              ? null
              : startedAt.plusSeconds(orDefault(readiness.getInitialDelaySeconds(), 0));
      Probe liveness = spec.getLivenessProbe();
      nextLivenessProbe =
          liveness == null
              ? null
              : startedAt.plusSeconds(orDefault(liveness.getInitialDelaySeconds(), 0));
      process.onExit().thenRun(() -> run.signals.add(Signal.EXIT));
      log.info(
          "pod {}/{} container {} started (pid {}): {}", run.namespace, run.name, name, pid, argv);
    }

    void probe(PodRun run) {
      if (!running()) {
        return;
      }
      Instant now = Instant.now();
      Probe readiness = spec.getReadinessProbe();
      if (readiness != null && nextReadinessProbe != null && !now.isBefore(nextReadinessProbe)) {
        ready = runProbe(readiness, run);
        nextReadinessProbe = Instant.now().plusSeconds(orDefault(readiness.getPeriodSeconds(), 10));
      }
      Probe liveness = spec.getLivenessProbe();
      if (liveness != null && nextLivenessProbe != null && !now.isBefore(nextLivenessProbe)) {
        livenessFailures = runProbe(liveness, run) ? 0 : livenessFailures + 1;
        nextLivenessProbe = Instant.now().plusSeconds(orDefault(liveness.getPeriodSeconds(), 10));
        if (livenessFailures >= orDefault(liveness.getFailureThreshold(), 3)) {
          log.info(
              "pod {}/{} container {} failed its liveness probe: killing it",
              run.namespace,
              run.name,
              name);
          killTree(this, "TERM");
          long grace =
              Optional.ofNullable(run.latest.getSpec().getTerminationGracePeriodSeconds())
                  .orElse(30L);
          try {
            process.waitFor(grace, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          }
          killTree(this, "KILL");
        }
      }
    }

    private boolean runProbe(Probe p, PodRun run) {
      int timeout = orDefault(p.getTimeoutSeconds(), 1);
      try {
        if (p.getExec() != null) {
          Map<String, String> env = environment(run.latest, spec);
          List<String> argv = p.getExec().getCommand();
          return runCommand(argv, env, run.podDir, Duration.ofSeconds(timeout)) == 0;
        }
        if (p.getHttpGet() != null) {
          var g = p.getHttpGet();
          int port = port(g.getPort());
          String scheme = Optional.ofNullable(g.getScheme()).orElse("HTTP").toLowerCase();
          String path = Optional.ofNullable(g.getPath()).orElse("/");
          HttpResponse<Void> r =
              http.send(
                  HttpRequest.newBuilder(URI.create(scheme + "://127.0.0.1:" + port + path))
                      .timeout(Duration.ofSeconds(timeout))
                      .GET()
                      .build(),
                  HttpResponse.BodyHandlers.discarding());
          return r.statusCode() >= 200 && r.statusCode() < 400;
        }
        if (p.getTcpSocket() != null) {
          try (Socket s = new Socket()) {
            s.connect(
                new InetSocketAddress("127.0.0.1", port(p.getTcpSocket().getPort())),
                timeout * 1000);
            return true;
          }
        }
      } catch (IOException | RuntimeException e) {
        return false;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
      return true;
    }

    private int port(IntOrString port) {
      if (port.getIntVal() != null) {
        return port.getIntVal();
      }
      return Optional.ofNullable(spec.getPorts()).orElse(List.of()).stream()
          .filter(p -> port.getStrVal().equals(p.getName()))
          .findFirst()
          .map(ContainerPort::getContainerPort)
          .orElseThrow(() -> new IllegalArgumentException("no port named " + port.getStrVal()));
    }

    void preStop(PodRun run, Instant deadline) {
      var lifecycle = spec.getLifecycle();
      if (lifecycle == null
          || lifecycle.getPreStop() == null
          || lifecycle.getPreStop().getExec() == null) {
        return;
      }
      Duration left = Duration.between(Instant.now(), deadline);
      if (left.isNegative() || left.isZero()) {
        return;
      }
      try {
        int code =
            runCommand(
                lifecycle.getPreStop().getExec().getCommand(),
                environment(run.latest, spec),
                run.podDir,
                left);
        log.info(
            "pod {}/{} container {}: preStop exited with {}", run.namespace, run.name, name, code);
      } catch (RuntimeException e) {
        log.warn(
            "pod {}/{} container {}: preStop failed: {}",
            run.namespace,
            run.name,
            name,
            e.getMessage());
      }
    }

    private String containerId() {
      return "standin://" + pid;
    }

    ContainerStatus status() {
      ContainerState state;
      if (running()) {
        state =
            new ContainerStateBuilder()
                .withNewRunning()
                .withStartedAt(timestamp(startedAt))
                .endRunning()
                .build();
      } else if (terminated != null && (done || waitingReason == null)) {
        state = new ContainerStateBuilder().withTerminated(terminated).build();
      } else {
        state =
            new ContainerStateBuilder()
                .withNewWaiting()
                .withReason(waitingReason == null ? "ContainerCreating" : waitingReason)
                .withMessage(
                    waitingMessage != null
                        ? waitingMessage
                        : starts == 0 ? volumeMessageOf(this) : null)
                .endWaiting()
                .build();
      }
      ContainerState last = new ContainerState();
      if (!running() && terminated != null && !(done || waitingReason == null)) {
        last = new ContainerStateBuilder().withTerminated(terminated).build();
      } else if (lastTerminated != null) {
        last = new ContainerStateBuilder().withTerminated(lastTerminated).build();
      }
      String image = Optional.ofNullable(spec.getImage()).orElse("");
      return new ContainerStatusBuilder()
          .withName(name)
          .withImage(image)
          .withImageID("standin://" + image)
          .withContainerID(starts > 0 ? containerId() : null)
          .withReady(running() && ready)
          .withStarted(running())
          .withRestartCount(restartCount)
          .withState(state)
          .withLastState(last)
          .build();
    }
  }

  private String volumeMessageOf(ContainerRun c) {
    return runs.values().stream()
        .filter(r -> r.containers.contains(c) || r.initContainers.contains(c))
        .map(r -> r.volumeMessage)
        .filter(Objects::nonNull)
        .findFirst()
        .orElse(null);
  }

  private synchronized CsiClient csiClient() {
    if (csiConnection == null) {
      csiConnection = CsiClient.connect(csiEndpoint.orElseThrow());
    }
    return csiConnection;
  }

  // ------------------------------------------------------------------ kubelet port (TLS)

  private static SSLContext sslContext;

  /** A self-signed serving certificate (the API server does not verify kubelets without a CA). */
  private static synchronized SSLContext sslContext(Path dir) {
    if (sslContext != null) {
      return sslContext;
    }
    try {
      Path store = dir.resolve("kubelet.p12");
      char[] password = "standin".toCharArray();
      Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
      Process p =
          new ProcessBuilder(
                  keytool.toString(),
                  "-genkeypair",
                  "-alias",
                  "kubelet",
                  "-keyalg",
                  "RSA",
                  "-keysize",
                  "2048",
                  "-dname",
                  "CN=kubelet-standin",
                  "-validity",
                  "3650",
                  "-storetype",
                  "PKCS12",
                  "-keystore",
                  store.toString(),
                  "-storepass",
                  "standin",
                  "-keypass",
                  "standin",
                  "-ext",
                  "SAN=ip:127.0.0.1")
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      require(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, "keytool failed");
      KeyStore ks = KeyStore.getInstance("PKCS12");
      try (InputStream in = Files.newInputStream(store)) {
        ks.load(in, password);
      }
      KeyManagerFactory kmf =
          KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
      kmf.init(ks, password);
      SSLContext ctx = SSLContext.getInstance("TLS");
      ctx.init(kmf.getKeyManagers(), null, null);
      sslContext = ctx;
      return ctx;
    } catch (Exception e) {
      throw new IllegalStateException(
          "cannot make the stand-in's serving certificate: " + e.getMessage(), e);
    }
  }

  /**
   * The kubelet port: an HTTPS server of its own, recorded in the Node's status (daemonEndpoints),
   * so that pods/log through the API server reaches it.
   */
  private void startKubeletApi() {
    try {
      var server =
          HttpsServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      server.setHttpsConfigurator(new HttpsConfigurator(sslContext(workDir)));
      server.createContext("/containerLogs/", this::containerLogs);
      server.createContext("/healthz", ex -> respond(ex, 200, "ok"));
      server.setExecutor(
          Executors.newThreadPerTaskExecutor(
              Thread.ofVirtual().name("kubelet-standin-api-", 0).factory()));
      server.start();
      kubeletApi = server;
      var node = client.nodes().withName(nodeName).get();
      node.getStatus()
          .setDaemonEndpoints(
              new NodeDaemonEndpointsBuilder()
                  .withNewKubeletEndpoint()
                  .withPort(server.getAddress().getPort())
                  .endKubeletEndpoint()
                  .build());
      client.nodes().resource(node).updateStatus();
    } catch (IOException e) {
      throw new IllegalStateException(
          "cannot start the stand-in's kubelet API: " + e.getMessage(), e);
    }
  }

  // ------------------------------------------------------------------ kubelet API (logs)

  private void containerLogs(HttpExchange ex) throws IOException {
    try (ex) {
      String[] parts =
          ex.getRequestURI().getPath().substring("/containerLogs/".length()).split("/");
      if (parts.length != 3) {
        respond(ex, 400, "want /containerLogs/NAMESPACE/POD/CONTAINER");
        return;
      }
      Map<String, String> query = new LinkedHashMap<>();
      Optional.ofNullable(ex.getRequestURI().getRawQuery())
          .ifPresent(
              q -> {
                for (String kv : q.split("&")) {
                  int eq = kv.indexOf('=');
                  query.put(
                      URLDecoder.decode(eq < 0 ? kv : kv.substring(0, eq), StandardCharsets.UTF_8),
                      eq < 0
                          ? ""
                          : URLDecoder.decode(kv.substring(eq + 1), StandardCharsets.UTF_8));
                }
              });
      Optional<ContainerRun> found = containerRun(parts[0], parts[1], parts[2]);
      if (found.isEmpty()) {
        respond(
            ex,
            404,
            "container \""
                + parts[2]
                + "\" in pod \""
                + parts[1]
                + "\" is not known to the kubelet stand-in");
        return;
      }
      ContainerRun c = found.get();
      boolean previous = "true".equals(query.get("previous"));
      if (previous && c.starts < 2) {
        respond(
            ex,
            400,
            "previous terminated container \""
                + c.name
                + "\" in pod \""
                + parts[1]
                + "\" not found");
        return;
      }
      int start = previous ? c.starts - 2 : Math.max(0, c.starts - 1);
      Path file = c.logOfStart(start);
      byte[] content = Files.exists(file) ? Files.readAllBytes(file) : new byte[0];
      if (query.containsKey("tailLines")) {
        content = tail(content, Integer.parseInt(query.get("tailLines")));
      }
      if (query.containsKey("limitBytes")) {
        content =
            Arrays.copyOf(
                content, (int) Math.min(content.length, Long.parseLong(query.get("limitBytes"))));
      }
      boolean follow = "true".equals(query.get("follow")) && !previous;
      ex.getResponseHeaders().set("Content-Type", "text/plain");
      ex.sendResponseHeaders(200, follow ? 0 : content.length == 0 ? -1 : content.length);
      if (content.length > 0) {
        ex.getResponseBody().write(content);
      }
      if (follow) {
        long offset = Files.exists(file) ? Files.size(file) : 0;
        while (!closed && c.starts - 1 == start) {
          boolean alive = c.running();
          long size = Files.exists(file) ? Files.size(file) : 0;
          if (size > offset) {
            try (var ch = FileChannel.open(file)) {
              ex.getResponseBody()
                  .write(
                      Channels.newInputStream(ch.position(offset))
                          .readNBytes((int) (size - offset)));
            }
            ex.getResponseBody().flush();
            offset = size;
          } else if (!alive) {
            break;
          }
          sleep(200);
        }
      }
    } catch (RuntimeException e) {
      respond(ex, 500, String.valueOf(e.getMessage()));
    }
  }

  private static byte[] tail(byte[] content, int lines) {
    int end = content.length;
    int pos = end;
    if (pos > 0 && content[pos - 1] == '\n') {
      pos--;
    }
    int seen = 0;
    while (pos > 0) {
      if (content[pos - 1] == '\n' && ++seen == lines) {
        break;
      }
      pos--;
    }
    return lines <= 0 ? new byte[0] : Arrays.copyOfRange(content, pos, end);
  }

  private static void respond(HttpExchange ex, int code, String body) {
    try {
      byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().set("Content-Type", "text/plain");
      ex.sendResponseHeaders(code, bytes.length);
      ex.getResponseBody().write(bytes);
    } catch (IOException e) {
      // the client went away
    } finally {
      ex.close();
    }
  }

  // ------------------------------------------------------------------ environment and command

  private void checkVolumes(Pod pod) {
    Map<String, Volume> volumes = new LinkedHashMap<>();
    Optional.ofNullable(pod.getSpec().getVolumes())
        .orElse(List.of())
        .forEach(v -> volumes.put(v.getName(), v));
    for (Volume v : volumes.values()) {
      if (v.getHostPath() == null) {
        continue;
      }
      Path path = Path.of(v.getHostPath().getPath());
      String type = Optional.ofNullable(v.getHostPath().getType()).orElse("");
      try {
        switch (type) {
          case "DirectoryOrCreate" -> Files.createDirectories(path);
          case "FileOrCreate" -> {
            Files.createDirectories(path.getParent());
            if (!Files.exists(path)) {
              Files.createFile(path);
            }
          }
          case "Directory" ->
              require(Files.isDirectory(path), "hostPath " + path + " is not a directory");
          case "File" -> require(Files.isRegularFile(path), "hostPath " + path + " is not a file");
          default -> {}
        }
      } catch (IOException e) {
        throw new IllegalStateException("cannot create hostPath " + path + ": " + e.getMessage());
      }
    }
  }

  private void checkMounts(Pod pod, Container c) {
    Map<String, Volume> volumes = new LinkedHashMap<>();
    Optional.ofNullable(pod.getSpec().getVolumes())
        .orElse(List.of())
        .forEach(v -> volumes.put(v.getName(), v));
    for (VolumeMount m : Optional.ofNullable(c.getVolumeMounts()).orElse(List.of())) {
      Volume v = volumes.get(m.getName());
      if (v == null || v.getHostPath() == null) {
        continue;
      }
      Path host = Path.of(v.getHostPath().getPath());
      if (m.getSubPath() != null && !m.getSubPath().isEmpty()) {
        host = host.resolve(m.getSubPath());
      }
      require(
          host.normalize().equals(Path.of(m.getMountPath()).normalize()),
          "the kubelet stand-in runs containers on the host: hostPath volume "
              + m.getName()
              + " ("
              + host
              + ") must be mounted at the same path, not at "
              + m.getMountPath());
    }
  }

  private static void require(boolean ok, String message) {
    if (!ok) {
      throw new IllegalStateException(message);
    }
  }

  /** The container's environment, resolved as kubelet resolves it. */
  private Map<String, String> environment(Pod pod, Container c) {
    checkMounts(pod, c);
    String ns = pod.getMetadata().getNamespace();
    Map<String, String> env = new LinkedHashMap<>();
    env.put("PATH", binDir + ":" + SYSTEM_PATH);
    env.put("HOME", "/root");
    env.put("HOSTNAME", pod.getMetadata().getName());
    URI api = URI.create(cluster.masterUrl());
    env.put("KUBERNETES_SERVICE_HOST", api.getHost());
    env.put("KUBERNETES_SERVICE_PORT", Integer.toString(api.getPort()));
    env.put("KUBERNETES_SERVICE_PORT_HTTPS", Integer.toString(api.getPort()));
    env.put("JFS_STANDIN_MOUNTS", mountsFile.toString());
    env.put("JFS_STANDIN_NODE", nodeName);
    for (EnvFromSource from : Optional.ofNullable(c.getEnvFrom()).orElse(List.of())) {
      String prefix = Optional.ofNullable(from.getPrefix()).orElse("");
      if (from.getConfigMapRef() != null) {
        ConfigMap cm =
            client.configMaps().inNamespace(ns).withName(from.getConfigMapRef().getName()).get();
        if (cm == null) {
          require(
              Boolean.TRUE.equals(from.getConfigMapRef().getOptional()),
              "configmap " + from.getConfigMapRef().getName() + " not found");
        } else if (cm.getData() != null) {
          cm.getData().forEach((k, v) -> env.put(prefix + k, v));
        }
      }
      if (from.getSecretRef() != null) {
        Secret s = client.secrets().inNamespace(ns).withName(from.getSecretRef().getName()).get();
        if (s == null) {
          require(
              Boolean.TRUE.equals(from.getSecretRef().getOptional()),
              "secret " + from.getSecretRef().getName() + " not found");
        } else {
          secretData(s).forEach((k, v) -> env.put(prefix + k, v));
        }
      }
    }
    for (EnvVar e : Optional.ofNullable(c.getEnv()).orElse(List.of())) {
      String value;
      if (e.getValueFrom() != null) {
        value = valueFrom(pod, c, e.getValueFrom(), e.getName());
        if (value == null) {
          continue; // an optional key that is absent
        }
      } else {
        value = expand(Optional.ofNullable(e.getValue()).orElse(""), env);
      }
      env.put(e.getName(), value);
    }
    String path = env.get("PATH");
    if (!path.startsWith(binDir + ":")) {
      env.put("PATH", binDir + ":" + path);
    }
    return env;
  }

  private String valueFrom(Pod pod, Container c, EnvVarSource from, String var) {
    String ns = pod.getMetadata().getNamespace();
    if (from.getSecretKeyRef() != null) {
      var ref = from.getSecretKeyRef();
      Secret s = client.secrets().inNamespace(ns).withName(ref.getName()).get();
      String v = s == null ? null : secretData(s).get(ref.getKey());
      if (v == null) {
        require(
            Boolean.TRUE.equals(ref.getOptional()),
            (s == null
                    ? "secret \"" + ref.getName() + "\" not found"
                    : "couldn't find key "
                        + ref.getKey()
                        + " in Secret "
                        + ns
                        + "/"
                        + ref.getName())
                + " (env "
                + var
                + ")");
      }
      return v;
    }
    if (from.getConfigMapKeyRef() != null) {
      var ref = from.getConfigMapKeyRef();
      ConfigMap cm = client.configMaps().inNamespace(ns).withName(ref.getName()).get();
      String v = cm == null || cm.getData() == null ? null : cm.getData().get(ref.getKey());
      if (v == null) {
        require(
            Boolean.TRUE.equals(ref.getOptional()),
            (cm == null
                    ? "configmap \"" + ref.getName() + "\" not found"
                    : "couldn't find key "
                        + ref.getKey()
                        + " in ConfigMap "
                        + ns
                        + "/"
                        + ref.getName())
                + " (env "
                + var
                + ")");
      }
      return v;
    }
    if (from.getFieldRef() != null) {
      return fieldValue(pod, from.getFieldRef().getFieldPath());
    }
    if (from.getResourceFieldRef() != null) {
      var ref = from.getResourceFieldRef();
      String resource = ref.getResource();
      Map<String, Quantity> map =
          c.getResources() == null
              ? null
              : resource.startsWith("requests.")
                  ? c.getResources().getRequests()
                  : c.getResources().getLimits();
      String key = resource.substring(resource.indexOf('.') + 1);
      Quantity q = map == null ? null : map.get(key);
      if (q == null) {
        q = new Quantity(key.equals("cpu") ? "8" : key.equals("memory") ? "32Gi" : "0");
      }
      BigDecimal amount = q.getNumericalAmount();
      BigDecimal divisor =
          ref.getDivisor() == null ? BigDecimal.ONE : ref.getDivisor().getNumericalAmount();
      return amount.divide(divisor, 0, RoundingMode.CEILING).toPlainString();
    }
    throw new IllegalStateException("unsupported valueFrom for env " + var);
  }

  private static String fieldValue(Pod pod, String path) {
    Matcher m = Pattern.compile("metadata\\.(labels|annotations)\\['(.*)'\\]").matcher(path);
    if (m.matches()) {
      Map<String, String> map =
          m.group(1).equals("labels")
              ? pod.getMetadata().getLabels()
              : pod.getMetadata().getAnnotations();
      return map == null ? "" : map.getOrDefault(m.group(2), "");
    }
    return switch (path) {
      case "metadata.name" -> pod.getMetadata().getName();
      case "metadata.namespace" -> pod.getMetadata().getNamespace();
      case "metadata.uid" -> pod.getMetadata().getUid();
      case "spec.nodeName" -> pod.getSpec().getNodeName();
      case "spec.serviceAccountName" ->
          Optional.ofNullable(pod.getSpec().getServiceAccountName()).orElse("default");
      case "status.hostIP", "status.podIP", "status.podIPs", "status.hostIPs" -> "127.0.0.1";
      default -> throw new IllegalStateException("unsupported fieldRef " + path);
    };
  }

  private static Map<String, String> secretData(Secret s) {
    Map<String, String> out = new LinkedHashMap<>();
    if (s.getData() != null) {
      s.getData()
          .forEach(
              (k, v) ->
                  out.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    }
    if (s.getStringData() != null) {
      out.putAll(s.getStringData());
    }
    return out;
  }

  private static List<String> commandLine(Container c, Map<String, String> env) {
    List<String> argv = new ArrayList<>();
    Optional.ofNullable(c.getCommand()).orElse(List.of()).forEach(a -> argv.add(expand(a, env)));
    Optional.ofNullable(c.getArgs()).orElse(List.of()).forEach(a -> argv.add(expand(a, env)));
    require(
        !argv.isEmpty(),
        "the kubelet stand-in pulls no image: container " + c.getName() + " needs a command");
    return argv;
  }

  /**
   * No image is pulled, so the absolute paths of a JuiceFS mount image's binaries ({@code
   * /bin/mount.juicefs}, {@code /usr/local/bin/juicefs}, ...), as the Go driver writes them in its
   * Mount Pod command, are the shim's when the host has no such file.
   */
  private List<String> imageBinaries(List<String> argv) {
    List<String> out = new ArrayList<>(argv.size());
    for (String arg : argv) {
      Matcher m = IMAGE_BINARY.matcher(arg);
      StringBuilder b = new StringBuilder();
      while (m.find()) {
        String bin =
            Files.isExecutable(Path.of(m.group(1)))
                ? m.group(1)
                : binDir.resolve(Path.of(m.group(1)).getFileName()).toString();
        m.appendReplacement(b, Matcher.quoteReplacement(bin));
      }
      m.appendTail(b);
      out.add(b.toString());
    }
    return out;
  }

  /** Kubernetes' $(VAR) expansion: defined names are replaced, $$ is $, the rest stays. */
  static String expand(String s, Map<String, String> env) {
    Matcher m = VAR_REF.matcher(s);
    StringBuilder b = new StringBuilder();
    while (m.find()) {
      String replacement =
          m.group().equals("$$")
              ? "$"
              : env.containsKey(m.group(1)) ? env.get(m.group(1)) : m.group();
      m.appendReplacement(b, Matcher.quoteReplacement(replacement));
    }
    m.appendTail(b);
    return b.toString();
  }

  // ------------------------------------------------------------------ processes and mounts

  /** Sends SIG to a container's main process, its descendants and its process group. */
  private void killTree(ContainerRun c, String sig) {
    Process p = c.process;
    if (p == null) {
      return;
    }
    List<ProcessHandle> descendants = p.descendants().toList();
    killGroup(c.pid, sig);
    for (ProcessHandle h : descendants) {
      if (h.isAlive()) {
        signal(Long.toString(h.pid()), sig);
      }
    }
  }

  private static void killGroup(long pgid, String sig) {
    if (pgid > 1) {
      signal("-" + pgid, sig);
    }
  }

  private static void signal(String target, String sig) {
    try {
      Process k =
          new ProcessBuilder(KILL.toString(), "-s", sig, "--", target)
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD)
              .start();
      k.waitFor(5, TimeUnit.SECONDS);
    } catch (IOException e) {
      log.warn("cannot signal {}: {}", target, e.getMessage());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static int runCommand(
      List<String> argv, Map<String, String> env, Path dir, Duration timeout) {
    try {
      List<String> command = new ArrayList<>();
      command.add(SETSID.toString());
      command.addAll(argv);
      ProcessBuilder b =
          new ProcessBuilder(command)
              .directory(dir.toFile())
              .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
              .redirectErrorStream(true)
              .redirectOutput(ProcessBuilder.Redirect.DISCARD);
      b.environment().clear();
      b.environment().putAll(env);
      Process p = b.start();
      if (!p.waitFor(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)) {
        killGroup(p.pid(), "KILL");
        p.waitFor(5, TimeUnit.SECONDS);
        return -1;
      }
      killGroup(p.pid(), "KILL");
      return p.exitValue();
    } catch (IOException e) {
      return -1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return -1;
    }
  }

  private void installShim() {
    try (InputStream in = KubeletStandIn.class.getResourceAsStream("/kubelet-standin/juicefs")) {
      if (in == null) {
        throw new IllegalStateException(
            "the juicefs shim is not on the class path (src/test/resources/kubelet-standin/juicefs)");
      }
      Path shim = binDir.resolve("juicefs");
      Files.copy(in, shim, StandardCopyOption.REPLACE_EXISTING);
      Files.setPosixFilePermissions(shim, PosixFilePermissions.fromString("rwxr-xr-x"));
      Path mountJuicefs = binDir.resolve("mount.juicefs");
      Files.deleteIfExists(mountJuicefs);
      Files.createSymbolicLink(mountJuicefs, shim.getFileName());
    } catch (IOException e) {
      throw new IllegalStateException("cannot install the juicefs shim: " + e.getMessage(), e);
    }
  }

  /** Lazily unmounts every mount point the shim served that is still mounted (stale or not). */
  private void unmountShimMounts() {
    if (!Files.exists(mountsFile)) {
      return;
    }
    try {
      Set<String> points = new LinkedHashSet<>(Files.readAllLines(mountsFile));
      List<String> sorted = new ArrayList<>(points);
      sorted.sort(Comparator.comparing(String::length).reversed());
      for (String mp : sorted) {
        for (int i = 0; i < 8 && mountedAt(mp); i++) {
          runCommand(
              List.of("umount", "-l", mp),
              Map.of("PATH", SYSTEM_PATH),
              workDir,
              Duration.ofSeconds(10));
        }
      }
    } catch (IOException e) {
      log.warn("cannot read {}: {}", mountsFile, e.getMessage());
    }
  }

  private static boolean mountedAt(String mountPoint) {
    try (Stream<String> lines = Files.lines(Path.of("/proc/self/mountinfo"))) {
      return lines
          .map(l -> l.split(" "))
          .filter(f -> f.length > 4)
          .anyMatch(f -> unescape(f[4]).equals(mountPoint));
    } catch (IOException e) {
      return false;
    }
  }

  private static String unescape(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(ch);
      }
    }
    return b.toString();
  }

  private static String timestamp(Instant t) {
    return t == null
        ? null
        : DateTimeFormatter.ISO_INSTANT.format(t.truncatedTo(ChronoUnit.SECONDS));
  }

  private static int orDefault(Integer v, int d) {
    return v == null ? d : v;
  }

  private static void sleep(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}

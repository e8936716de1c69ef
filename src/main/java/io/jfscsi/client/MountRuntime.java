package io.jfscsi.client;

import io.jfscsi.Failure;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.function.Consumer;

/**
 * Where JuiceFS clients run: a child process in its own session (local mode) or a Mount Pod
 * (Kubernetes). The mount actors drive it; it keeps no mount state of its own beyond the records it
 * persists for them.
 *
 * <p>Starting, stopping and cleaning a cache can take long (a Mount Pod is awaited for its grace
 * period): they run on threads of the runtime's own and complete a stage, so a mount actor never
 * holds a thread of its dispatcher while they run. The other methods are short and blocking, and
 * are called from the mount actors' dispatcher.
 */
public interface MountRuntime {

  /**
   * {@code source} with what its claim and this node add before it is parsed (the claim's {@code
   * juicefs/mount-*} annotations, {@code ${.pvc.*}} and {@code ${.node.*}} templates in mount
   * options: {@link io.jfscsi.juicefs.ClaimSettings}); as it is where there is no cluster.
   * Blocking; a refusal or an unreachable API server is a {@link io.jfscsi.Failure}.
   */
  default VolumeSource withClaim(VolumeSource source) {
    return source;
  }

  /**
   * The StorageClass whose volumes share a client with {@code source}'s in the share mode
   * STORAGE_CLASS_SHARE_MOUNT ({@link io.jfscsi.juicefs.ShareMode}); none where there is no cluster
   * to ask, for a volume without a class, or a class whose Secret names are templates. Blocking; an
   * unreachable API server is a {@link io.jfscsi.Failure}.
   */
  default Optional<String> storageClassOf(VolumeSource source) {
    return Optional.empty();
  }

  /**
   * Starts a client for {@code settings} under {@code key}, or adopts one that still runs from an
   * earlier driver ({@code previous}); completes when its mount point answers. A client that cannot
   * start completes exceptionally with a {@link io.jfscsi.Failure} that says why (bad metaurl,
   * missing binary, the client's own error output with secrets removed). {@code onExit} is called
   * once, from any thread, when the started client dies later.
   */
  CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit);

  /**
   * As {@link #start(ClientKey, VolumeSettings, java.util.Optional, Consumer)}, and reports what
   * the start waits on to {@code onProgress} each time that changes (from any thread), so that a
   * publish that cannot wait for the whole start can say why. A runtime whose starts have nothing
   * to say reports nothing.
   */
  default CompletionStage<RunningClient> start(
      ClientKey key,
      VolumeSettings settings,
      Optional<RunningClient> previous,
      Consumer<ClientExit> onExit,
      Consumer<StartProgress> onProgress) {
    return start(key, settings, previous, onExit);
  }

  /**
   * Stops the client and unmounts its mount point; idempotent. Completes when the client is gone
   * and its mount point cleared, exceptionally with a {@link io.jfscsi.Failure} if it cannot be.
   */
  CompletionStage<Void> stop(RunningClient client);

  /**
   * Persists the whole record of a client that starts serving (a first start, a restart, an
   * adoption): where the runtime keeps records per client (a new Mount Pod), this is when it gets
   * all of them. Atomic, before the caller acknowledges anything. Blocking.
   */
  void save(ClientRecord record);

  /**
   * Persists one change of a client's record (a reference added or removed, the delayed exit set or
   * cancelled), writing just that, before the caller acknowledges it. Blocking.
   */
  void record(RecordChange change);

  /** Forgets the record of a client that has been stopped. Blocking. */
  void remove(ClientKey key);

  /** Every record saved by this or an earlier driver on this node. Blocking. */
  List<ClientRecord> load();

  /**
   * Removes the cache directories of the client {@code key} (with {@code settings}), after it has
   * stopped; completes when done.
   */
  CompletionStage<Void> cleanCache(ClientKey key, VolumeSettings settings);

  /** As {@link #cleanCache(ClientKey, VolumeSettings)} for the client of one volume alone. */
  default CompletionStage<Void> cleanCache(VolumeSettings settings) {
    return cleanCache(new ClientKey(settings.volumeId(), settings.clientHash()), settings);
  }

  /**
   * Whether the pod that {@code target} was published for is known to be gone from this node
   * (cluster mode: not in the node's pod informer for a while), so that its reference can be
   * dropped though its directory is still there. Local mode knows no more than the directory.
   */
  default boolean podGone(Path target) {
    return false;
  }

  /**
   * The quota switches of the Go driver's global ConfigMap as this runtime reads them; its defaults
   * where there is no cluster.
   */
  default QuotaSwitches quotaSwitches() {
    return QuotaSwitches.DEFAULTS;
  }

  /**
   * The size of the volume now, where the cluster says it (the PV's capacity, which an expansion
   * raises); empty where there is none, and then the volume context's {@code capacity} stands.
   * Blocking.
   */
  default Optional<Long> volumeCapacity(String volumeId) {
    return Optional.empty();
  }

  /** How setting a volume's directory quota ended. */
  enum QuotaOutcome {
    /** The quota is in the file system's metadata. */
    SET,
    /** The volume cannot hold a quota (the embedded default): its capacity is only reported. */
    NOT_ENFORCED
  }

  /**
   * Sets the directory quota of a volume ({@code juicefs quota set}); idempotent, so a repeat or a
   * larger size simply replaces it. Blocking (a one-shot command); a failure is a {@link
   * io.jfscsi.Failure} that says why, with no secret in it. A runtime that runs no commands on this
   * host cannot.
   */
  default QuotaOutcome setQuota(VolumeSettings volume, DirectoryQuota quota) {
    throw Failure.precondition("this runtime cannot set directory quotas");
  }

  /**
   * Makes {@code target} (which must not exist; its parent must) a copy of the directory {@code
   * source}, both in the mounted volume {@code fs} of a client this runtime started: {@code juicefs
   * clone -p}, or a plain copy keeping modes, owners and times where the volume has no clone.
   * Neither follows a symbolic link out of the volume. Blocking; a failure is a {@link
   * io.jfscsi.Failure} that says why, and may leave part of {@code target} behind.
   */
  default void copyDirectory(VolumeSettings fs, PathBeneath source, PathBeneath target) {
    throw Failure.precondition("this runtime cannot copy directories");
  }

  /**
   * Replaces the running {@code client} by a new one that takes over its FUSE connection (smooth
   * upgrade: the kernel mount and every target bound from it stay as they are); completes with the
   * new client, or exceptionally with a {@link io.jfscsi.Failure} that says why it was refused
   * (nothing changed) or failed. {@code onExit} is as in {@link #start}. A runtime whose clients
   * cannot pass their connection refuses.
   */
  default CompletionStage<RunningClient> upgrade(
      RunningClient client, VolumeSettings settings, Consumer<ClientExit> onExit) {
    return java.util.concurrent.CompletableFuture.failedStage(
        Failure.precondition(
            "smooth upgrade of client "
                + client.key()
                + " refused, nothing changed: this runtime's clients cannot hand their FUSE"
                + " connection to a new client (the embedded default runs bindfs, which cannot"
                + " take one over; a local juicefs process is not given the keeper's socket)."
                + " A client is replaced only by a restart: its targets are bound again and files"
                + " open in it break."));
  }

  /** The node's FUSE fd keepers, for a runtime whose clients pass their connection; once. */
  default void keepFuseFds(io.jfscsi.fusefd.FuseFdKeeping keeping) {}

  /**
   * What an operator should know although the runtime is ready (for example a configuration it
   * refused and works without); /ready shows it. None by default.
   */
  default List<String> warnings() {
    return List.of();
  }

  /** Whether the runtime can start clients (binaries present, API reachable). */
  boolean ready();
}

package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.HasMetadata;
import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolume;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.fabric8.kubernetes.api.model.Secret;
import io.fabric8.kubernetes.api.model.storage.StorageClass;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.fabric8.kubernetes.client.KubernetesClientException;
import io.fabric8.kubernetes.client.informers.ResourceEventHandler;
import io.fabric8.kubernetes.client.informers.SharedIndexInformer;
import io.jfscsi.Asks;
import io.jfscsi.Failure;
import io.jfscsi.controller.SnapshotHandle;
import io.jfscsi.controller.VolumeProvisioner;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Scheduler;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The built-in provisioner's work while this replica leads: informers on claims and volumes feed
 * one worker thread that provisions each pending claim of this driver (sub-directory through the
 * {@link VolumeProvisioner} actor, then the PV) and deletes each released volume of this driver
 * whose reclaim policy is Delete. A failed step becomes an Event on the claim (or the volume) and
 * is retried with exponential backoff. Never logs or reports a secret value.
 */
public final class ProvisioningLoop implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ProvisioningLoop.class);

  /** external-provisioner's annotations: which secret DeleteVolume needs, kept on the PV. */
  static final String SELECTED_NODE = "volume.kubernetes.io/selected-node";

  /** The Event on a claim whose volume was made but whose quota could not be set yet. */
  static final String QUOTA_NOT_SET = "QuotaNotSet";

  static final String DELETION_SECRET_NAME =
      "volume.kubernetes.io/provisioner-deletion-secret-name";

  static final String DELETION_SECRET_NAMESPACE =
      "volume.kubernetes.io/provisioner-deletion-secret-namespace";

  private final KubernetesClient client;
  private final ProvisionerSettings settings;
  private final ActorRef<VolumeProvisioner.Command> provisioner;
  private final Scheduler scheduler;
  private final ProvisioningEvents events;
  private final RetryQueue queue;
  private final ClaimResizer resizer;
  private volatile SharedIndexInformer<PersistentVolumeClaim> claims;
  private volatile SharedIndexInformer<PersistentVolume> volumes;

  public ProvisioningLoop(
      KubernetesClient client,
      ProvisionerSettings settings,
      ActorRef<VolumeProvisioner.Command> provisioner,
      Scheduler scheduler,
      String identity) {
    this.client = client;
    this.settings = settings;
    this.provisioner = provisioner;
    this.scheduler = scheduler;
    this.events = new ProvisioningEvents(client, settings.driverName() + "_" + identity);
    this.resizer =
        new ClaimResizer(
            client, events, this::secret, m -> this.<VolumeProvisioner.Expanded>ask(m::apply));
    this.queue =
        new RetryQueue(
            "jfs-csi-provisioner", settings.backoffMin(), settings.backoffMax(), this::process);
  }

  public ProvisioningLoop start() {
    long resync = settings.resync().toMillis();
    // Both informers exist before either delivers an event: the worker reads both caches.
    volumes = client.persistentVolumes().runnableInformer(resync);
    claims = client.persistentVolumeClaims().inAnyNamespace().runnableInformer(resync);
    volumes.addEventHandler(handler(pv -> "volume:" + pv.getMetadata().getName()));
    claims.addEventHandler(
        handler(
            pvc ->
                "claim:" + pvc.getMetadata().getNamespace() + "/" + pvc.getMetadata().getName()));
    volumes.run();
    claims.run();
    log.info("built-in provisioner of {} started", settings.driverName());
    return this;
  }

  @Override
  public void close() {
    if (claims != null) {
      claims.stop();
    }
    if (volumes != null) {
      volumes.stop();
    }
    queue.close(settings.callTimeout().plusSeconds(5));
    log.info("built-in provisioner of {} stopped", settings.driverName());
  }

  private <T extends HasMetadata> ResourceEventHandler<T> handler(Function<T, String> key) {
    return new ResourceEventHandler<>() {
      @Override
      public void onAdd(T obj) {
        queue.add(key.apply(obj));
      }

      @Override
      public void onUpdate(T oldObj, T newObj) {
        queue.add(key.apply(newObj));
      }

      @Override
      public void onDelete(T obj, boolean deletedFinalStateUnknown) {
        queue.forget(key.apply(obj));
      }
    };
  }

  private void process(String key) {
    HasMetadata subject = null;
    try {
      if (key.startsWith("claim:")) {
        PersistentVolumeClaim pvc = claims.getIndexer().getByKey(key.substring(6));
        subject = pvc;
        if (pvc != null && VolumeObjects.pendingFor(pvc, settings.driverName())) {
          provision(pvc);
        } else if (pvc != null) {
          resizeIfAsked(pvc);
        }
      } else {
        PersistentVolume pv = volumes.getIndexer().getByKey(key.substring(7));
        subject = pv;
        if (pv != null && VolumeObjects.releasedForDelete(pv, settings.driverName())) {
          delete(pv);
        }
      }
      queue.succeeded(key);
    } catch (RuntimeException e) {
      if (queue.closed()) {
        return;
      }
      String reason = ProvisioningEvents.plain(e);
      RetryQueue.Retry retry = queue.failed(key);
      log.warn("{}: {} (attempt {}, again in {})", key, reason, retry.attempt(), retry.after());
      if (subject != null && !(e instanceof ClaimResizer.Retry)) {
        events.record(
            subject,
            "Warning",
            subject instanceof PersistentVolumeClaim ? "ProvisioningFailed" : "VolumeFailedDelete",
            reason);
      }
    }
  }

  // ------------------------------------------------------------------ provisioning

  private void provision(PersistentVolumeClaim pvc) {
    String pvName = VolumeObjects.pvName(pvc);
    if (volumes.getIndexer().getByKey(pvName) != null
        || client.persistentVolumes().withName(pvName).get() != null) {
      return; // provisioned already; kube-controller-manager binds it
    }
    String scName = pvc.getSpec().getStorageClassName();
    if (scName == null || scName.isEmpty()) {
      throw Failure.invalid("the claim names no StorageClass");
    }
    StorageClass sc = client.storage().v1().storageClasses().withName(scName).get();
    if (sc == null) {
      throw Failure.notFound("StorageClass " + scName + " does not exist");
    }
    if (!settings.driverName().equals(sc.getProvisioner())) {
      return; // not ours after all
    }
    VolumeObjects.checkClaim(pvc);
    Map<String, String> parameters = sc.getParameters() == null ? Map.of() : sc.getParameters();
    Optional<VolumeObjects.SecretRef> secretRef =
        VolumeObjects.secretRef(parameters, "provisioner", pvc, pvName);
    Optional<VolumeObjects.SecretRef> publishRef =
        VolumeObjects.secretRef(parameters, "node-publish", pvc, pvName);
    if (secretRef.isEmpty()) {
      throw Failure.invalid(
          "StorageClass "
              + scName
              + " names no provisioner secret "
              + "(csi.storage.k8s.io/provisioner-secret-name and -namespace): the controller needs "
              + "its name and metaurl to create the volume's directory");
    }
    Map<String, String> secrets = secret(secretRef.get());
    Optional<Node> node = selectedNode(pvc);
    String pattern = parameters.get(VolumeObjects.PATH_PATTERN);
    String subPath =
        pattern == null || pattern.isEmpty() ? pvName : Templates.subPath(pattern, pvc, node);
    long bytes = VolumeObjects.bytes(VolumeObjects.requested(pvc));
    Optional<SnapshotHandle> fromSnapshot =
        ClaimSnapshots.of(client, pvc, settings.driverName(), bytes);
    List<String> mountOptions = VolumeObjects.mountOptions(sc, pvc, node);
    VolumeProvisioner.Created created =
        this.<VolumeProvisioner.Created>ask(
            reply ->
                new VolumeProvisioner.Create(
                    pvName,
                    VolumeObjects.volumeParameters(parameters, pvc, node),
                    secrets,
                    bytes,
                    subPath,
                    mountOptions,
                    fromSnapshot,
                    reply));
    PersistentVolume pv =
        VolumeObjects.persistentVolume(
            settings.driverName(), pvc, sc, created.context(), publishRef, mountOptions);
    VolumeObjects.addExpandSecretRef(pv, parameters, pvc);
    pv.getMetadata().getAnnotations().put(DELETION_SECRET_NAME, secretRef.get().name());
    pv.getMetadata().getAnnotations().put(DELETION_SECRET_NAMESPACE, secretRef.get().namespace());
    try {
      client.persistentVolumes().resource(pv).create();
    } catch (KubernetesClientException e) {
      if (e.getCode() != 409) {
        throw e;
      }
    }
    if (SecretFinalizer.wanted(parameters)
        && "Delete".equals(pv.getSpec().getPersistentVolumeReclaimPolicy())) {
      try {
        SecretFinalizer.add(client, secretRef.get());
      } catch (KubernetesClientException e) {
        // As the Go driver: the volume is provisioned; the finalizer is a safeguard.
        log.warn(
            "cannot add finalizer {} to secret {}: {}",
            SecretFinalizer.NAME,
            secretRef.get(),
            ProvisioningEvents.plain(e));
      }
    }
    log.info(
        "claim {}/{}: volume {} provisioned at {}",
        pvc.getMetadata().getNamespace(),
        pvc.getMetadata().getName(),
        pvName,
        created.context().get(VolumeProvisioner.SUB_PATH));
    events.record(
        pvc, "Normal", "ProvisioningSucceeded", "Successfully provisioned volume " + pvName);
    created
        .quotaProblem()
        .ifPresent(
            why ->
                events.record(
                    pvc,
                    "Warning",
                    QUOTA_NOT_SET,
                    "the quota of volume "
                        + pvName
                        + " is not set yet; the node sets it at the first mount: "
                        + why));
  }

  /**
   * The node the scheduler chose for a claim that waits for its first consumer (the {@code
   * volume.kubernetes.io/selected-node} annotation), whose {@code ${.node.*}} templates the
   * StorageClass may use; none for a claim bound at once, as in the Go driver.
   */
  private Optional<Node> selectedNode(PersistentVolumeClaim pvc) {
    Map<String, String> annotations = pvc.getMetadata().getAnnotations();
    String name = annotations == null ? null : annotations.get(SELECTED_NODE);
    if (name == null || name.isEmpty()) {
      return Optional.empty();
    }
    Node node = client.nodes().withName(name).get();
    if (node == null) {
      throw new Failure(
          Failure.Code.UNAVAILABLE, "the claim's selected node " + name + " does not exist");
    }
    return Optional.of(node);
  }

  /** A bound claim of ours that asks for more: the resize external-resizer would do. */
  private void resizeIfAsked(PersistentVolumeClaim pvc) {
    Optional<String> volume = ClaimResizer.boundVolume(pvc);
    if (volume.isEmpty()) {
      return;
    }
    PersistentVolume pv = volumes.getIndexer().getByKey(volume.get());
    if (pv != null) {
      resizer.resizeIfAsked(pvc, pv, settings.driverName());
    }
  }

  // ------------------------------------------------------------------ deletion

  private void delete(PersistentVolume pv) {
    String name = pv.getMetadata().getName();
    String subPath = VolumeObjects.subPath(pv);
    Optional<String> sharer =
        volumes.getIndexer().list().stream()
            .filter(other -> !other.getMetadata().getName().equals(name))
            .filter(other -> VolumeObjects.ours(other, settings.driverName()))
            .filter(other -> VolumeObjects.subPath(other).equals(subPath))
            .map(other -> other.getMetadata().getName())
            .findFirst();
    if (sharer.isPresent()) {
      log.info("volume {}: directory {} kept, volume {} uses it too", name, subPath, sharer.get());
    } else {
      Map<String, String> secrets = secret(deletionSecret(pv));
      this.<Done>ask(reply -> new VolumeProvisioner.Delete(name, subPath, secrets, reply));
    }
    // Before the PV goes: a failure here is retried with the volume, which is still listed then.
    SecretFinalizer.releaseUnlessUsed(
        client, pv, deletionSecretOf(pv), volumes.getIndexer().list(), settings.driverName());
    client.persistentVolumes().withName(name).delete();
    log.info("volume {} deleted", name);
  }

  /** The secret the PV's deletion-secret annotations name, if they do. */
  static Optional<VolumeObjects.SecretRef> deletionSecretOf(PersistentVolume pv) {
    Map<String, String> a = pv.getMetadata().getAnnotations();
    if (a != null
        && a.containsKey(DELETION_SECRET_NAME)
        && a.containsKey(DELETION_SECRET_NAMESPACE)) {
      return Optional.of(
          new VolumeObjects.SecretRef(
              a.get(DELETION_SECRET_NAME), a.get(DELETION_SECRET_NAMESPACE)));
    }
    return Optional.empty();
  }

  private VolumeObjects.SecretRef deletionSecret(PersistentVolume pv) {
    Optional<VolumeObjects.SecretRef> ref = deletionSecretOf(pv);
    if (ref.isPresent()) {
      return ref.get();
    }
    throw Failure.precondition(
        "volume "
            + pv.getMetadata().getName()
            + " does not say which "
            + "secret reaches its file system (annotations "
            + DELETION_SECRET_NAME
            + " and "
            + DELETION_SECRET_NAMESPACE
            + ")");
  }

  // ------------------------------------------------------------------ helpers

  /** The secret's keys and values; its values never leave this map. */
  private Map<String, String> secret(VolumeObjects.SecretRef ref) {
    Secret s = client.secrets().inNamespace(ref.namespace()).withName(ref.name()).get();
    if (s == null) {
      throw Failure.notFound("secret " + ref + " does not exist");
    }
    Map<String, String> result = new HashMap<>();
    if (s.getData() != null) {
      s.getData()
          .forEach(
              (k, v) ->
                  result.put(k, new String(Base64.getDecoder().decode(v), StandardCharsets.UTF_8)));
    }
    if (s.getStringData() != null) {
      result.putAll(s.getStringData());
    }
    return result;
  }

  private <T> T ask(Function<ActorRef<StatusReply<T>>, VolumeProvisioner.Command> message) {
    try {
      return Asks.<VolumeProvisioner.Command, T>askWithStatus(
              provisioner, message::apply, settings.callTimeout(), scheduler)
          .toCompletableFuture()
          .get(settings.callTimeout().toMillis() + 1000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof StatusReply.ErrorMessage m) {
        throw Failure.internal(m.getMessage(), null);
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      throw Failure.internal(String.valueOf(cause), cause);
    } catch (TimeoutException e) {
      throw new Failure(
          Failure.Code.DEADLINE_EXCEEDED,
          "the file system did not answer within " + settings.callTimeout());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Failure.Code.ABORTED, "interrupted");
    }
  }
}

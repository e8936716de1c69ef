package io.jfscsi.runtime.kube;

import io.fabric8.kubernetes.api.model.Pod;
import io.jfscsi.Failure;
import io.jfscsi.client.ClientExit;
import io.jfscsi.client.RunningClient;
import io.jfscsi.fusefd.FuseFdKeeping;
import io.jfscsi.fusefd.FuseFdProtocol;
import io.jfscsi.juicefs.MountedClientConfig;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A smooth upgrade of one Mount Pod (the Go driver's {@code upgrade <pod> --recreate}): a new pod,
 * built from the volume's settings as a new client would be now (the default image, or the volume's
 * {@code juicefs/mount-image}, and the current ConfigMap), takes over the FUSE connection that the
 * node's keeper holds, at the same mount path, so the kernel mount and every target bound from it
 * stay as they are. Refused, with nothing changed, when either client cannot pass the connection or
 * the keeper does not hold it. Blocking: run on the runtime's threads.
 */
final class MountPodUpgrade {
  private static final Logger log = LoggerFactory.getLogger(MountPodUpgrade.class);
  private static final Duration EXCHANGE = Duration.ofSeconds(10);

  /**
   * How long the old client may take to flush its buffered writes and exit once signalled, unless
   * its pod's own grace period is longer: past it, kubelet kills it and what it still buffered is
   * lost, as with any Mount Pod deleted while it writes.
   */
  static final Duration HANDOVER_GRACE = Duration.ofMinutes(2);

  private final KubeRuntimeConfig config;
  private final MountPodWatch pods;
  private final MountPodCreation creation;
  private final MountPodRemoval removal;
  private final Supplier<FuseFdKeeping> keeping;

  MountPodUpgrade(
      KubeRuntimeConfig config,
      MountPodWatch pods,
      MountPodCreation creation,
      MountPodRemoval removal,
      Supplier<FuseFdKeeping> keeping) {
    this.config = config;
    this.pods = pods;
    this.creation = creation;
    this.removal = removal;
    this.keeping = keeping;
  }

  RunningClient upgrade(
      RunningClient running, VolumeSettings settings, Consumer<ClientExit> onExit) {
    String name = running.handle();
    Pod old =
        pods.latest(name)
            .orElseThrow(() -> Failure.precondition("Mount Pod " + name + " is not on this node"));
    String image = old.getSpec().getContainers().getFirst().getImage();
    if (!FusePassing.supported(image)) {
      throw refused(
          name,
          "runs "
              + image
              + ", whose JuiceFS client cannot hand its FUSE connection over (that needs CE"
              + " 1.2.1 or later, named by the image's tag as ce-vX.Y.Z)");
    }
    Optional<Path> dir = FusePassing.dirOf(old).filter(d -> FusePassing.given(old));
    if (dir.isEmpty()) {
      throw refused(
          name,
          "was created without "
              + FusePassing.ENV
              + " (by an older driver, or with jfs-csi.kubernetes.fuse-fd-dir \"\"), so its"
              + " client never handed its FUSE connection to the node");
    }
    String id = FusePassing.upgradeId(running.key());
    keeping.get().open(id, dir.get());
    Optional<String> held = keeping.get().holding(id);
    if (held.isEmpty()) {
      throw refused(
          name,
          "has not handed its FUSE connection to the node's keeper ("
              + dir.get()
              + "): its"
              + " client may still be starting");
    }
    String suffix = MountPodNames.randomSuffix();
    Pod next =
        creation
            .build(
                running.key(),
                settings,
                MountPodNames.podName(config.nodeName(), running.key().volumeId(), suffix),
                running.mountPath())
            .pod();
    String nextImage = next.getSpec().getContainers().getFirst().getImage();
    if (!FusePassing.given(next)) {
      throw refused(
          name,
          "would be replaced by a pod on "
              + nextImage
              + ", whose client cannot take a FUSE connection over (CE 1.2.1 or later needed)");
    }
    if (!FusePassing.handsOver(old)) {
      throw refused(
          name,
          "has no handover hook (it was made by an older jfs-csi, or a ConfigMap patch gave it a"
              + " preStop that is not a command), so its client could not be told to flush and"
              + " let go before its pod goes");
    }
    MountedClientConfig client;
    try {
      client = MountedClientConfig.read(running.mountPath(), settings.mountOptions(), EXCHANGE);
    } catch (Failure e) {
      throw refused(name, "cannot be told to hand over: " + e.getMessage());
    }
    // The marker first: if it cannot be written, nothing has changed yet. Without a deletion the
    // hook never reads it.
    Path marker = dir.get().resolve(FusePassing.handoverMarker(name));
    writeMarker(marker, client.pid());
    List<Pod> predecessor = List.of(old);
    try {
      // The supervisor in the old pod lets go of its copy; the keeper's and the mount process's
      // remain, so the connection outlives the old pod, and the supervisor ends after its client.
      for (Path socket : clientSockets(dir.get())) {
        try {
          FuseFdProtocol.takeAway(socket, EXCHANGE);
        } catch (RuntimeException e) {
          log.info("upgrade of {}: {} did not answer: {}", name, socket, e.getMessage());
        }
      }
      log.info(
          "upgrade of {}: its FUSE connection ({}) goes from {} to a new pod on {} at {}",
          name,
          held.get(),
          image,
          nextImage,
          running.mountPath());
      // The pod's preStop hook signals the process; it has HANDOVER_GRACE to flush and exit.
      removal.handOver(old, HANDOVER_GRACE);
    } finally {
      deleteMarker(marker);
    }
    try {
      return creation.create(
          running.key(),
          settings,
          onExit,
          new MountPodProgress.Reporter(p -> {}, Redactor.forSettings(settings)),
          suffix,
          running.mountPath(),
          predecessor);
    } catch (RuntimeException e) {
      // No client serves the connection: drop it, so that the mount fails (ENOTCONN) and the
      // recovery binds every target to a new client, instead of leaving the apps' calls hanging.
      keeping.get().close(id);
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "upgrade of Mount Pod "
              + name
              + ": the new pod did not take its FUSE connection over ("
              + e.getMessage()
              + "); the connection was dropped, and the targets are bound again to a new client"
              + " (files open in the old client break)",
          e);
    }
  }

  /** Written whole (renamed into place), so that the hook never reads half a number. */
  private static void writeMarker(Path marker, long pid) {
    Path partial = marker.resolveSibling(marker.getFileName() + ".partial");
    try {
      Files.writeString(partial, Long.toString(pid));
      Files.move(partial, marker, StandardCopyOption.ATOMIC_MOVE);
    } catch (IOException e) {
      throw new Failure(
          Failure.Code.INTERNAL,
          "cannot write the handover marker " + marker + " (nothing was changed): " + e,
          e);
    }
  }

  private static void deleteMarker(Path marker) {
    try {
      Files.deleteIfExists(marker);
    } catch (IOException e) {
      log.warn("cannot delete the handover marker {}: {}", marker, e.toString());
    }
  }

  private static List<Path> clientSockets(Path dir) {
    try {
      return FuseFdProtocol.clientSockets(dir);
    } catch (java.io.IOException e) {
      return List.of();
    }
  }

  private static Failure refused(String pod, String why) {
    return Failure.precondition(
        "smooth upgrade of Mount Pod "
            + pod
            + " refused, nothing changed: it "
            + why
            + ". To replace its client anyway, delete the pod: a new one binds every target"
            + " again, and files open in the old client break.");
  }
}

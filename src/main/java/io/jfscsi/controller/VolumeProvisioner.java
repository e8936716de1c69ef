package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.juicefs.QuotaSwitches;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;

/**
 * The controller side: creates and deletes the sub-directory of each dynamically provisioned volume
 * ({@link ProvisionedVolumes}), and the snapshots of volumes ({@link VolumeSnapshots}). One actor
 * handles the requests in order, so two CreateVolume calls for the same name never race; each call
 * is short (a directory operation on a mounted file system). This class holds the protocol, the
 * factory and the routing of each message to the half that does the work.
 */
public final class VolumeProvisioner {
  private VolumeProvisioner() {}

  /** The volume messages below, and the snapshot messages of {@link VolumeSnapshots}. */
  public sealed interface Command
      permits Create,
          Delete,
          Lookup,
          Expand,
          VolumeSnapshots.CreateSnapshot,
          VolumeSnapshots.DeleteSnapshot {}

  /**
   * @param parameters StorageClass parameters as the CO passed them
   * @param secrets the provisioner secret
   * @param subPath the directory to create below the root: the name, or what the built-in
   *     provisioner resolved from {@code pathPattern}. A volume already provisioned keeps the
   *     sub-path it was first given.
   * @param mountOptions the StorageClass's mountOptions (CSI: the capabilities' mount flags), which
   *     every publish of the volume will carry: refused here as a publish would refuse them, before
   *     a PV that no pod can mount is made
   * @param fromSnapshot the snapshot the new directory starts as a copy of; empty: it starts empty
   */
  public record Create(
      String name,
      Map<String, String> parameters,
      Map<String, String> secrets,
      long requiredBytes,
      String subPath,
      List<String> mountOptions,
      Optional<SnapshotHandle> fromSnapshot,
      ActorRef<StatusReply<Created>> replyTo)
      implements Command {

    public Create(
        String name,
        Map<String, String> parameters,
        Map<String, String> secrets,
        long requiredBytes,
        String subPath,
        List<String> mountOptions,
        ActorRef<StatusReply<Created>> replyTo) {
      this(
          name,
          parameters,
          secrets,
          requiredBytes,
          subPath,
          mountOptions,
          Optional.empty(),
          replyTo);
    }

    /** CSI CreateVolume: the directory is named after the volume. */
    public Create(
        String name,
        Map<String, String> parameters,
        Map<String, String> secrets,
        long requiredBytes,
        List<String> mountOptions,
        ActorRef<StatusReply<Created>> replyTo) {
      this(name, parameters, secrets, requiredBytes, name, mountOptions, replyTo);
    }
  }

  /**
   * @param subPath the directory to remove when the catalog does not know the volume (the built-in
   *     provisioner passes the PV's {@code subPath} attribute); null: the volume id
   */
  public record Delete(
      String volumeId,
      String subPath,
      Map<String, String> secrets,
      ActorRef<StatusReply<Done>> replyTo)
      implements Command {

    /** CSI DeleteVolume: the directory is the catalog's, or named after the volume. */
    public Delete(
        String volumeId, Map<String, String> secrets, ActorRef<StatusReply<Done>> replyTo) {
      this(volumeId, null, secrets, replyTo);
    }
  }

  /** Whether a volume is known: provisioned here, or present in the file system. */
  public record Lookup(
      String volumeId,
      Map<String, String> parameters,
      Map<String, String> secrets,
      ActorRef<StatusReply<Boolean>> replyTo)
      implements Command {}

  /**
   * ControllerExpandVolume: raise the volume's directory quota to {@code requiredBytes}.
   *
   * @param subPath the volume's directory when the caller knows it (the built-in resizer passes the
   *     PV's {@code subPath}); null: the catalog's, or named after the volume
   * @param mountOptions the volume's mount options (the PV's, which external-resizer passes as the
   *     capability's mount flags): a {@code subdir} among them is part of the quota's path, as at
   *     provisioning
   */
  public record Expand(
      String volumeId,
      String subPath,
      Map<String, String> secrets,
      long requiredBytes,
      List<String> mountOptions,
      ActorRef<StatusReply<Expanded>> replyTo)
      implements Command {}

  /** The volume's size after an expansion. */
  public record Expanded(long capacityBytes) {}

  /**
   * The provisioned volume: its id and the context every later publish receives.
   *
   * @param quotaProblem why the directory quota could not be set at provisioning (the node sets it
   *     at the first mount instead); empty when it was set or is not wanted
   */
  public record Created(
      String volumeId,
      long capacityBytes,
      Map<String, String> context,
      Optional<String> quotaProblem) {}

  public static final String SUB_PATH = "subPath";

  /**
   * @param quotas sets directory quotas ({@link MountRuntime#setQuota}, a local runtime)
   * @param switches the quota switches of the global ConfigMap now
   */
  public static Behavior<Command> create(
      VolumeDirectories directories,
      VolumeCatalog catalog,
      MountRuntime quotas,
      Supplier<QuotaSwitches> switches) {
    return Behaviors.setup(
        ctx -> {
          Logger log = ctx.getLog();
          VolumeSnapshots snapshots =
              new VolumeSnapshots(
                  directories, catalog, catalog.snapshots(), Clock.systemUTC(), log);
          ProvisionedVolumes volumes =
              new ProvisionedVolumes(directories, catalog, quotas, switches, snapshots, log);
          return Behaviors.receive(Command.class)
              .onMessage(
                  Command.class,
                  command -> {
                    switch (command) {
                      case Create c -> reply(c.replyTo(), () -> volumes.create(c));
                      case VolumeSnapshots.CreateSnapshot s ->
                          reply(s.replyTo(), () -> snapshots.create(s));
                      case VolumeSnapshots.DeleteSnapshot s ->
                          reply(s.replyTo(), () -> snapshots.delete(s));
                      case Expand e -> reply(e.replyTo(), () -> volumes.expand(e));
                      case Delete d -> reply(d.replyTo(), () -> volumes.delete(d));
                      case Lookup l -> reply(l.replyTo(), () -> volumes.lookup(l));
                    }
                    return Behaviors.same();
                  })
              .build();
        });
  }

  public static VolumeCatalog catalog(Path stateDir) {
    return new VolumeCatalog(stateDir.resolve("volumes"));
  }

  private static <T> void reply(ActorRef<StatusReply<T>> to, Supplier<T> work) {
    try {
      to.tell(StatusReply.success(work.get()));
    } catch (Failure f) {
      to.tell(StatusReply.error(f));
    } catch (RuntimeException e) {
      to.tell(StatusReply.error(Failure.internal(String.valueOf(e.getMessage()), e)));
    }
  }
}

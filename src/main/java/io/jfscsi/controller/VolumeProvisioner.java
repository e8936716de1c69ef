package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.pattern.StatusReply;
import org.slf4j.Logger;

/**
 * The controller side: creates and deletes the sub-directory of each dynamically provisioned
 * volume, and the snapshots of volumes ({@link VolumeSnapshots}). One actor handles the requests in
 * order, so two CreateVolume calls for the same name never race; each call is short (a directory
 * operation on a mounted file system).
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

  /** The names external-provisioner gives dynamic PVs: pvc-<uid of the claim>. */
  private static final Pattern DYNAMIC_NAME =
      Pattern.compile("pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

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
          Quotas quota = new Quotas(quotas, switches);
          VolumeSnapshots snapshots =
              new VolumeSnapshots(
                  directories, catalog, catalog.snapshots(), Clock.systemUTC(), log);
          return Behaviors.receive(Command.class)
              .onMessage(
                  Command.class,
                  command -> {
                    switch (command) {
                      case Create c ->
                          reply(
                              c.replyTo(),
                              () -> create(c, directories, catalog, quota, snapshots, log));
                      case VolumeSnapshots.CreateSnapshot s ->
                          reply(s.replyTo(), () -> snapshots.create(s));
                      case VolumeSnapshots.DeleteSnapshot s ->
                          reply(s.replyTo(), () -> snapshots.delete(s));
                      case Expand e ->
                          reply(e.replyTo(), () -> expand(e, directories, catalog, quota, log));
                      case Delete d ->
                          reply(d.replyTo(), () -> delete(d, directories, catalog, log));
                      case Lookup l -> reply(l.replyTo(), () -> lookup(l, directories, catalog));
                    }
                    return Behaviors.same();
                  })
              .build();
        });
  }

  public static VolumeCatalog catalog(Path stateDir) {
    return new VolumeCatalog(stateDir.resolve("volumes"));
  }

  private static Created create(
      Create c,
      VolumeDirectories directories,
      VolumeCatalog catalog,
      Quotas quota,
      VolumeSnapshots snapshots,
      Logger log) {
    VolumeSource source = new VolumeSource(c.name(), c.secrets(), c.parameters(), List.of());
    VolumeSettings fs = SettingsParser.parse(source);
    SettingsParser.ignoredKeys(source).ifPresent(note -> log.warn("volume {}: {}", c.name(), note));
    if (!c.mountOptions().isEmpty()) {
      // Only checked: the request hash of a volume stays what it was without them.
      SettingsParser.parse(
          new VolumeSource(c.name(), c.secrets(), c.parameters(), c.mountOptions()));
    }
    String requestHash =
        requestHash(
            c.parameters(),
            fs.clientHash() + c.fromSnapshot().map(h -> "\0snapshot\0" + h.id()).orElse(""));
    Optional<VolumeCatalog.Entry> known = catalog.find(c.name());
    if (known.isPresent()) {
      VolumeCatalog.Entry e = known.get();
      if (!e.requestHash().equals(requestHash) || e.capacityBytes() != c.requiredBytes()) {
        throw Failure.alreadyExists(
            "volume "
                + c.name()
                + " already exists with other parameters, capacity or content source");
      }
    }
    String subPath = known.map(VolumeCatalog.Entry::subPath).orElse(c.subPath());
    if (c.fromSnapshot().isPresent() && known.isEmpty()) {
      snapshots.restore(c.fromSnapshot().get(), fs, c.name(), subPath);
    } else {
      directories.create(fs, subPath);
    }
    VolumeCatalog.Entry entry =
        known.orElseGet(
            () -> new VolumeCatalog.Entry(c.name(), requestHash, c.requiredBytes(), subPath));
    if (known.isEmpty()) {
      catalog.put(entry);
      log.info(
          "volume {} provisioned in file system {} at {} ({} bytes requested)",
          c.name(),
          fs.fsName(),
          subPath,
          c.requiredBytes());
    }
    Map<String, String> context = new TreeMap<>(c.parameters());
    context.put(SUB_PATH, subPath);
    context.put(DirectoryQuota.CAPACITY, Long.toString(c.requiredBytes()));
    Optional<String> quotaProblem = Optional.empty();
    if (entry.quotaSet()) {
      context.put(DirectoryQuota.SET_BY_CONTROLLER, "true");
    } else if (c.requiredBytes() > 0 && quota.atProvisioning()) {
      VolumeSettings volume =
          SettingsParser.parse(
              new VolumeSource(
                  c.name(), c.secrets(), withSubPath(c.parameters(), subPath), c.mountOptions()));
      try {
        if (quota.set(volume, entry.currentBytes()) == MountRuntime.QuotaOutcome.SET) {
          catalog.put(entry.resized(entry.currentBytes(), true));
          context.put(DirectoryQuota.SET_BY_CONTROLLER, "true");
        }
      } catch (Failure f) {
        // The volume is there and usable: the node sets the quota at its first mount instead.
        quotaProblem = Optional.of(f.getMessage());
        log.warn(
            "volume {}: quota not set at provisioning, the node sets it at the first mount: {}",
            c.name(),
            f.getMessage());
      }
    }
    return new Created(c.name(), c.requiredBytes(), context, quotaProblem);
  }

  private static Map<String, String> withSubPath(Map<String, String> parameters, String subPath) {
    Map<String, String> context = new HashMap<>(parameters);
    context.put(SUB_PATH, subPath);
    return context;
  }

  /**
   * Raises the quota, or answers the size the volume has when it is as large already (the spec: a
   * smaller or equal request succeeds). A volume this controller did not provision is looked up in
   * the file system through the request's secret.
   */
  private static Expanded expand(
      Expand e, VolumeDirectories directories, VolumeCatalog catalog, Quotas quota, Logger log) {
    Optional<VolumeCatalog.Entry> known = catalog.find(e.volumeId());
    if (known.isPresent() && known.get().currentBytes() >= e.requiredBytes()) {
      return new Expanded(known.get().currentBytes());
    }
    if (e.secrets().isEmpty()) {
      if (known.isEmpty()) {
        throw Failure.notFound(
            "volume "
                + e.volumeId()
                + " was not provisioned by this controller, and without a secret"
                + " (csi.storage.k8s.io/controller-expand-secret-name and -namespace) it cannot"
                + " be looked up in its file system");
      }
      throw Failure.invalid(
          "expanding volume "
              + e.volumeId()
              + " needs the controller-expand secret (name, metaurl) to reach its file system:"
              + " set csi.storage.k8s.io/controller-expand-secret-name and -namespace in the"
              + " StorageClass");
    }
    String subPath =
        known
            .map(VolumeCatalog.Entry::subPath)
            .orElse(e.subPath() == null ? e.volumeId() : e.subPath());
    VolumeSettings volume =
        SettingsParser.parse(
            new VolumeSource(
                e.volumeId(), e.secrets(), Map.of(SUB_PATH, subPath), e.mountOptions()));
    if (known.isEmpty() && !directories.exists(volume, subPath)) {
      throw Failure.notFound("volume " + e.volumeId() + " does not exist");
    }
    boolean set = false;
    if (quota.wanted()) {
      set = quota.set(volume, e.requiredBytes()) == MountRuntime.QuotaOutcome.SET;
    }
    final boolean quotaSet = set;
    known.ifPresent(entry -> catalog.put(entry.resized(e.requiredBytes(), quotaSet)));
    log.info("volume {} expanded to {} bytes", e.volumeId(), e.requiredBytes());
    return new Expanded(e.requiredBytes());
  }

  private static Done delete(
      Delete d, VolumeDirectories directories, VolumeCatalog catalog, Logger log) {
    Optional<VolumeCatalog.Entry> known = catalog.find(d.volumeId());
    if (known.isEmpty() && !DYNAMIC_NAME.matcher(d.volumeId()).matches()) {
      // Not provisioned here, and not named like a dynamic PV: most likely a static volume
      // whose data this driver must never remove.
      log.info("DeleteVolume {}: not provisioned by this driver; nothing removed", d.volumeId());
      return Done.getInstance();
    }
    if (d.secrets().isEmpty()) {
      if (known.isEmpty()) {
        return Done.getInstance(); // nothing of ours: already deleted
      }
      throw Failure.invalid(
          "DeleteVolume for "
              + d.volumeId()
              + " needs the provisioner secret "
              + "(name, metaurl) to reach the file system");
    }
    VolumeSettings fs =
        SettingsParser.parse(new VolumeSource(d.volumeId(), d.secrets(), Map.of(), List.of()));
    String subPath =
        known
            .map(VolumeCatalog.Entry::subPath)
            .orElse(d.subPath() == null ? d.volumeId() : d.subPath());
    directories.delete(fs, subPath);
    catalog.remove(d.volumeId());
    log.info("volume {} deleted from file system {}", d.volumeId(), fs.fsName());
    return Done.getInstance();
  }

  private static Boolean lookup(Lookup l, VolumeDirectories directories, VolumeCatalog catalog) {
    if (catalog.find(l.volumeId()).isPresent()) {
      return true;
    }
    if (l.secrets().isEmpty()) {
      return false;
    }
    VolumeSettings fs =
        SettingsParser.parse(
            new VolumeSource(l.volumeId(), l.secrets(), l.parameters(), List.of()));
    return directories.exists(fs, l.volumeId());
  }

  /** Parameters and file system identity, hashed: what makes two CreateVolume calls the same. */
  private static String requestHash(Map<String, String> parameters, String fsHash) {
    try {
      MessageDigest sha = MessageDigest.getInstance("SHA-256");
      new TreeMap<>(new HashMap<>(parameters))
          .forEach(
              (k, v) -> {
                sha.update(k.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
                sha.update(v.getBytes(StandardCharsets.UTF_8));
                sha.update((byte) 0);
              });
      sha.update(fsHash.getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(sha.digest());
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
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

  /** The quota port and the switches, read once per request. */
  private record Quotas(MountRuntime runtime, Supplier<QuotaSwitches> switches) {

    boolean atProvisioning() {
      return switches.get().atProvisioning();
    }

    boolean wanted() {
      return switches.get().setQuota();
    }

    MountRuntime.QuotaOutcome set(VolumeSettings volume, long bytes) {
      return runtime.setQuota(volume, DirectoryQuota.of(volume, bytes));
    }
  }
}

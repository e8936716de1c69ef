package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
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
 * volume. One actor handles the requests in order, so two CreateVolume calls for the same name
 * never race; each call is short (a directory operation on a mounted file system).
 */
public final class VolumeProvisioner {
  private VolumeProvisioner() {}

  public sealed interface Command {}

  /**
   * @param parameters StorageClass parameters as the CO passed them
   * @param secrets the provisioner secret
   * @param subPath the directory to create below the root: the name, or what the built-in
   *     provisioner resolved from {@code pathPattern}. A volume already provisioned keeps the
   *     sub-path it was first given.
   * @param mountOptions the StorageClass's mountOptions (CSI: the capabilities' mount flags), which
   *     every publish of the volume will carry: refused here as a publish would refuse them, before
   *     a PV that no pod can mount is made
   */
  public record Create(
      String name,
      Map<String, String> parameters,
      Map<String, String> secrets,
      long requiredBytes,
      String subPath,
      List<String> mountOptions,
      ActorRef<StatusReply<Created>> replyTo)
      implements Command {

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

  /** The provisioned volume: its id and the context every later publish receives. */
  public record Created(String volumeId, long capacityBytes, Map<String, String> context) {}

  public static final String SUB_PATH = "subPath";

  /** The names external-provisioner gives dynamic PVs: pvc-<uid of the claim>. */
  private static final Pattern DYNAMIC_NAME =
      Pattern.compile("pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  public static Behavior<Command> create(VolumeDirectories directories, VolumeCatalog catalog) {
    return Behaviors.setup(
        ctx -> {
          Logger log = ctx.getLog();
          return Behaviors.receive(Command.class)
              .onMessage(
                  Command.class,
                  command -> {
                    switch (command) {
                      case Create c ->
                          reply(c.replyTo(), () -> create(c, directories, catalog, log));
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
      Create c, VolumeDirectories directories, VolumeCatalog catalog, Logger log) {
    VolumeSource source = new VolumeSource(c.name(), c.secrets(), c.parameters(), List.of());
    VolumeSettings fs = SettingsParser.parse(source);
    SettingsParser.ignoredKeys(source).ifPresent(note -> log.warn("volume {}: {}", c.name(), note));
    if (!c.mountOptions().isEmpty()) {
      // Only checked: the request hash of a volume stays what it was without them.
      SettingsParser.parse(
          new VolumeSource(c.name(), c.secrets(), c.parameters(), c.mountOptions()));
    }
    String requestHash = requestHash(c.parameters(), fs.clientHash());
    Optional<VolumeCatalog.Entry> known = catalog.find(c.name());
    if (known.isPresent()) {
      VolumeCatalog.Entry e = known.get();
      if (!e.requestHash().equals(requestHash) || e.capacityBytes() != c.requiredBytes()) {
        throw Failure.alreadyExists(
            "volume " + c.name() + " already exists with other " + "parameters or capacity");
      }
    }
    String subPath = known.map(VolumeCatalog.Entry::subPath).orElse(c.subPath());
    directories.create(fs, subPath);
    if (known.isEmpty()) {
      catalog.put(new VolumeCatalog.Entry(c.name(), requestHash, c.requiredBytes(), subPath));
      log.info(
          "volume {} provisioned in file system {} at {} ({} bytes requested)",
          c.name(),
          fs.fsName(),
          subPath,
          c.requiredBytes());
    }
    Map<String, String> context = new TreeMap<>(c.parameters());
    context.put(SUB_PATH, subPath);
    context.put("capacity", Long.toString(c.requiredBytes()));
    return new Created(c.name(), c.requiredBytes(), context);
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
}

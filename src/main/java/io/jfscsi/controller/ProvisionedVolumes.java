package io.jfscsi.controller;

import static io.jfscsi.controller.VolumeProvisioner.SUB_PATH;

import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.controller.VolumeProvisioner.Create;
import io.jfscsi.controller.VolumeProvisioner.Created;
import io.jfscsi.controller.VolumeProvisioner.Delete;
import io.jfscsi.controller.VolumeProvisioner.Expand;
import io.jfscsi.controller.VolumeProvisioner.Expanded;
import io.jfscsi.controller.VolumeProvisioner.Lookup;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.QuotaSwitches;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import java.nio.charset.StandardCharsets;
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
import org.slf4j.Logger;

/**
 * The volume half of the provisioner, run by its actor one request at a time: a volume is a
 * sub-directory of its file system, made (or restored from a snapshot, {@link VolumeSnapshots}) at
 * CreateVolume with its quota when the switches say so, its quota raised at expansion, removed at
 * DeleteVolume; {@link VolumeCatalog} remembers what was made here. Its messages are the
 * provisioner's {@link VolumeProvisioner.Command}s.
 */
final class ProvisionedVolumes {

  /** The names external-provisioner gives dynamic PVs: pvc-<uid of the claim>. */
  private static final Pattern DYNAMIC_NAME =
      Pattern.compile("pvc-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");

  private final VolumeDirectories directories;
  private final VolumeCatalog catalog;
  private final Quotas quota;
  private final VolumeSnapshots snapshots;
  private final Logger log;

  /**
   * @param quotas sets directory quotas ({@link MountRuntime#setQuota}, a local runtime)
   * @param switches the quota switches of the global ConfigMap now
   */
  ProvisionedVolumes(
      VolumeDirectories directories,
      VolumeCatalog catalog,
      MountRuntime quotas,
      Supplier<QuotaSwitches> switches,
      VolumeSnapshots snapshots,
      Logger log) {
    this.directories = directories;
    this.catalog = catalog;
    this.quota = new Quotas(quotas, switches);
    this.snapshots = snapshots;
    this.log = log;
  }

  Created create(Create c) {
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
  Expanded expand(Expand e) {
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

  Done delete(Delete d) {
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

  boolean lookup(Lookup l) {
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

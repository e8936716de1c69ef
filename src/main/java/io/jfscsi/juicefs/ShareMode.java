package io.jfscsi.juicefs;

import com.typesafe.config.Config;
import java.util.Optional;

/**
 * The Go driver's share modes, which decide a client's "unique id", the first part of its key: by
 * default the volume id (one client per volume and node); with {@code STORAGE_CLASS_SHARE_MOUNT}
 * the name of the volume's StorageClass, with {@code FS_SHARE_MOUNT} the file system name (Secret
 * key {@code name}), so that every volume of it on a node shares one client. The settings hash
 * stays the second part of the key: volumes whose settings differ (another metaurl or credentials,
 * other mount options) never share a client, whatever their unique id. Each target still shows its
 * own volume's sub-directory.
 *
 * @param storageClass {@code jfs-csi.share-mount.storage-class} ({@code STORAGE_CLASS_SHARE_MOUNT})
 * @param fileSystem {@code jfs-csi.share-mount.file-system} ({@code FS_SHARE_MOUNT})
 */
public record ShareMode(boolean storageClass, boolean fileSystem) {

  /** One client per volume. */
  public static final ShareMode NONE = new ShareMode(false, false);

  public static ShareMode from(Config jfsCsi) {
    return new ShareMode(
        jfsCsi.getBoolean("share-mount.storage-class"),
        jfsCsi.getBoolean("share-mount.file-system"));
  }

  /**
   * The unique id of the client that serves {@code settings}: the file system name when that mode
   * is on (the wider share wins when both are), else the StorageClass the volume belongs to when
   * that mode is on and it has one ({@code storageClass}: empty for a static PV without a class, an
   * inline volume, a class whose secret names are templates, or where there is no cluster), else
   * the volume id.
   */
  public String uniqueId(VolumeSettings settings, Optional<String> storageClass) {
    if (fileSystem && !settings.fsName().isEmpty()) {
      return settings.fsName();
    }
    if (this.storageClass && storageClass.filter(s -> !s.isEmpty()).isPresent()) {
      return storageClass.get();
    }
    return settings.volumeId();
  }
}

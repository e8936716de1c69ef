package io.jfscsi.client;

/**
 * Identity of one shared JuiceFS client: the Go driver's "unique id" and the hash of its settings.
 * Two publishes share a client exactly when their keys are equal.
 *
 * @param volumeId the unique id: the volume id, or in a share mode the name of the StorageClass
 *     (STORAGE_CLASS_SHARE_MOUNT) or file system (FS_SHARE_MOUNT) whose volumes share the client
 *     ({@link io.jfscsi.juicefs.ShareMode}); each target still shows its own volume ({@link
 *     TargetVolume})
 */
public record ClientKey(String volumeId, String settingsHash) {

  /**
   * A short stable name for logs and views. It holds the volume id as given (any characters), so
   * wherever it becomes a file, actor or pod name it goes through {@link SafeNames} first.
   */
  public String name() {
    return volumeId + "-" + settingsHash.substring(0, Math.min(12, settingsHash.length()));
  }

  @Override
  public String toString() {
    return name();
  }
}

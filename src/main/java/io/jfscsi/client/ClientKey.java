package io.jfscsi.client;

/**
 * Identity of one shared JuiceFS client: the volume it serves and the hash of its settings. Two
 * publishes share a client exactly when their keys are equal.
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

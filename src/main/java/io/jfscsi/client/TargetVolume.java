package io.jfscsi.client;

import io.jfscsi.juicefs.VolumeSettings;

/**
 * The volume a target shows: its id (what kubelet names in an unpublish) and the directory of the
 * client's file system bound there. In a share mode one client serves the targets of several
 * volumes, each bound to its own volume's sub-directory.
 *
 * @param subPath relative to the file system's root, normalized; "" for the root
 */
public record TargetVolume(String volumeId, String subPath) {

  /** The volume {@code settings} describe. */
  public static TargetVolume of(VolumeSettings settings) {
    return new TargetVolume(settings.volumeId(), settings.subPath());
  }
}

package io.jfscsi.controller;

import io.jfscsi.juicefs.VolumeSettings;

/**
 * The controller's view of a JuiceFS file system: creating and removing the sub-directory of a
 * volume. Blocking; called from the provisioner actor's dispatcher.
 */
public interface VolumeDirectories {

  /** Creates {@code subPath} (one level under the root) if missing; idempotent. */
  void create(VolumeSettings fs, String subPath);

  /** Removes {@code subPath} and everything under it if present; idempotent. */
  void delete(VolumeSettings fs, String subPath);

  boolean exists(VolumeSettings fs, String subPath);
}

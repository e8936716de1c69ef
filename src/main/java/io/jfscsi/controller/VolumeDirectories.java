package io.jfscsi.controller;

import io.jfscsi.juicefs.VolumeSettings;

/**
 * The controller's view of a JuiceFS file system: creating and removing the sub-directory of a
 * volume, and copying one (snapshots and their restores). Blocking; called from the provisioner
 * actor's dispatcher.
 */
public interface VolumeDirectories {

  /** Creates {@code subPath} (one level under the root) if missing; idempotent. */
  void create(VolumeSettings fs, String subPath);

  /** Removes {@code subPath} and everything under it if present; idempotent. */
  void delete(VolumeSettings fs, String subPath);

  boolean exists(VolumeSettings fs, String subPath);

  /**
   * Makes {@code to} a copy of the directory {@code from} (both relative to the root), whole or not
   * at all: the copy is made under a hidden name beside {@code to} and renamed into place, so a
   * copy cut short leaves no {@code to} behind. Nothing is copied when {@code to} exists already. A
   * missing {@code from} is NOT_FOUND.
   *
   * @return the bytes of the files in {@code to}
   */
  long copy(VolumeSettings fs, String from, String to);
}

package io.jfscsi.controller;

import java.util.Optional;

/**
 * A snapshot's id as the Go driver writes it into a VolumeSnapshotContent ({@code <name>|<source
 * volume id>}), so that a snapshot made by either driver restores with the other, and the directory
 * that holds it: {@code .snapshots/<source volume id>/<name>} below the root of the file system.
 */
public record SnapshotHandle(String name, String sourceVolumeId) {

  public static final String DIRECTORY = ".snapshots";

  public SnapshotHandle {
    if (!plainName(name) || !plainName(sourceVolumeId)) {
      throw new IllegalArgumentException("not a snapshot name and volume id: " + name);
    }
  }

  /** The handle {@code id} names; empty when it is not one (then no snapshot of ours has it). */
  public static Optional<SnapshotHandle> parse(String id) {
    int bar = id.indexOf('|');
    if (bar < 0 || id.indexOf('|', bar + 1) >= 0) {
      return Optional.empty();
    }
    String name = id.substring(0, bar);
    String source = id.substring(bar + 1);
    return plainName(name) && plainName(source)
        ? Optional.of(new SnapshotHandle(name, source))
        : Optional.empty();
  }

  public String id() {
    return name + "|" + sourceVolumeId;
  }

  /** The snapshot's directory relative to the root of the file system. */
  public String path() {
    return DIRECTORY + "/" + sourceVolumeId + "/" + name;
  }

  /** One path element that names no directory but itself, and no '|' (the handle's separator). */
  static boolean plainName(String s) {
    if (s.isEmpty() || s.equals(".") || s.equals("..")) {
      return false;
    }
    for (char c : s.toCharArray()) {
      if (c == '/' || c == '|' || Character.isISOControl(c)) {
        return false;
      }
    }
    return true;
  }
}

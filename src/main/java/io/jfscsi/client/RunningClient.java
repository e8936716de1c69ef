package io.jfscsi.client;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A started JuiceFS client: where its file system is mounted on this host, how the runtime finds it
 * again ({@code handle} is a process id in local mode, a pod name on Kubernetes) and what its
 * runtime says of its exit beyond the volume's settings.
 */
public record RunningClient(
    ClientKey key, Path mountPath, String handle, Instant startedAt, ExitOverride exit) {

  /** A client whose exit follows the volume's settings alone. */
  public RunningClient(ClientKey key, Path mountPath, String handle, Instant startedAt) {
    this(key, mountPath, handle, startedAt, ExitOverride.NONE);
  }
}

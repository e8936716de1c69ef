package io.jfscsi.client;

import java.nio.file.Path;
import java.time.Instant;

/**
 * A started JuiceFS client: where its file system is mounted on this host and how the runtime finds
 * it again ({@code handle} is a process id in local mode, a pod name on Kubernetes).
 */
public record RunningClient(ClientKey key, Path mountPath, String handle, Instant startedAt) {}

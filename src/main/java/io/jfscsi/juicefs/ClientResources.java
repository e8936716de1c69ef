package io.jfscsi.juicefs;

import java.util.Optional;

/**
 * CPU and memory requests and limits for a JuiceFS client, from
 * {@code juicefs/mount-{cpu,memory}-{request,limit}}. CPU in millicores, memory in bytes; empty
 * means "not set".
 */
public record ClientResources(Optional<Long> cpuRequestMillis, Optional<Long> cpuLimitMillis,
                              Optional<Long> memoryRequestBytes, Optional<Long> memoryLimitBytes) {
  public static final ClientResources NONE =
      new ClientResources(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
}

package io.jfscsi.juicefs;

import java.util.Optional;

/**
 * CPU and memory requests and limits for a JuiceFS client, from {@code
 * juicefs/mount-{cpu,memory}-{request,limit}}. CPU in millicores, memory in bytes; empty means "not
 * set" (a Mount Pod then gets the Go driver's defaults for that resource, unless the volume sets
 * the other field of it), 0 means "set to no value" (a value of 0 or less in the volume: no
 * request, or no limit, as in the Go driver).
 */
public record ClientResources(
    Optional<Long> cpuRequestMillis,
    Optional<Long> cpuLimitMillis,
    Optional<Long> memoryRequestBytes,
    Optional<Long> memoryLimitBytes) {
  public static final ClientResources NONE =
      new ClientResources(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty());
}

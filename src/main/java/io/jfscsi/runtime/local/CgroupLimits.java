package io.jfscsi.runtime.local;

import io.jfscsi.juicefs.ClientResources;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The cgroup control files, and their values, that express a client's {@link ClientResources}. The
 * conversions are Kubernetes' (pkg/kubelet/cm), so that a client limited in local mode gets the
 * same share and quota as it would in a Mount Pod.
 */
final class CgroupLimits {
  static final long CPU_PERIOD_US = 100_000;

  /** Kubernetes' MinQuotaPeriod: the kernel refuses a quota below 1ms. */
  static final long MIN_QUOTA_US = 1_000;

  static final long MIN_SHARES = 2;
  static final long MAX_SHARES = 262_144;

  private CgroupLimits() {}

  /** Whether the client needs a cgroup at all. */
  static boolean any(ClientResources r) {
    return needsCpu(r) || needsMemory(r);
  }

  static boolean needsCpu(ClientResources r) {
    return positive(r.cpuRequestMillis()).isPresent() || positive(r.cpuLimitMillis()).isPresent();
  }

  static boolean needsMemory(ClientResources r) {
    return positive(r.memoryRequestBytes()).isPresent()
        || positive(r.memoryLimitBytes()).isPresent();
  }

  /** MilliCPUToShares. */
  static long cpuShares(long millis) {
    long shares = millis * 1024 / 1000;
    return Math.clamp(shares, MIN_SHARES, MAX_SHARES);
  }

  /** CpuSharesToCpuWeight: maps [2, 262144] shares onto [1, 10000]. */
  static long cpuWeight(long millis) {
    long weight = 1 + ((cpuShares(millis) - 2) * 9999) / 262_142;
    return Math.clamp(weight, 1, 10_000);
  }

  /** MilliCPUToQuota for a period of {@link #CPU_PERIOD_US}. */
  static long cpuQuotaUs(long millis) {
    return Math.max(millis * CPU_PERIOD_US / 1000, MIN_QUOTA_US);
  }

  /**
   * File name to value, in the order to write them, for {@code controller} ("cpu" or "memory") in a
   * hierarchy of version 2 ({@code unified}) or 1. Only fields that are set are written: the cgroup
   * is fresh (or was made by this same key, hence with the same values), so the kernel's defaults
   * stand for the rest. A zero counts as unset, as in Kubernetes.
   */
  static Map<String, String> files(String controller, boolean unified, ClientResources r) {
    Map<String, String> files = new LinkedHashMap<>();
    Optional<Long> cpuLimit = positive(r.cpuLimitMillis());
    Optional<Long> cpuRequest = positive(r.cpuRequestMillis());
    Optional<Long> memLimit = positive(r.memoryLimitBytes());
    Optional<Long> memRequest = positive(r.memoryRequestBytes());
    switch (controller) {
      case "cpu" -> {
        if (unified) {
          cpuLimit.ifPresent(m -> files.put("cpu.max", cpuQuotaUs(m) + " " + CPU_PERIOD_US));
          cpuRequest.ifPresent(m -> files.put("cpu.weight", Long.toString(cpuWeight(m))));
        } else {
          cpuLimit.ifPresent(
              m -> {
                // The period first: the kernel checks the quota against the current period.
                files.put("cpu.cfs_period_us", Long.toString(CPU_PERIOD_US));
                files.put("cpu.cfs_quota_us", Long.toString(cpuQuotaUs(m)));
              });
          cpuRequest.ifPresent(m -> files.put("cpu.shares", Long.toString(cpuShares(m))));
        }
      }
      case "memory" -> {
        memLimit.ifPresent(
            b -> files.put(unified ? "memory.max" : "memory.limit_in_bytes", Long.toString(b)));
        memRequest.ifPresent(
            b ->
                files.put(unified ? "memory.low" : "memory.soft_limit_in_bytes", Long.toString(b)));
      }
      default -> throw new IllegalArgumentException("unknown controller " + controller);
    }
    return files;
  }

  /** For logs: "cpu request 250m, memory limit 67108864 bytes". */
  static String describe(ClientResources r) {
    List<String> parts = new ArrayList<>();
    positive(r.cpuRequestMillis()).ifPresent(m -> parts.add("cpu request " + m + "m"));
    positive(r.cpuLimitMillis()).ifPresent(m -> parts.add("cpu limit " + m + "m"));
    positive(r.memoryRequestBytes()).ifPresent(b -> parts.add("memory request " + b + " bytes"));
    positive(r.memoryLimitBytes()).ifPresent(b -> parts.add("memory limit " + b + " bytes"));
    return parts.isEmpty() ? "no resources" : String.join(", ", parts);
  }

  private static Optional<Long> positive(Optional<Long> value) {
    return value.filter(v -> v > 0);
  }
}

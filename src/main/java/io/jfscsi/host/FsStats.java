package io.jfscsi.host;

/** statvfs figures of a mounted file system. */
public record FsStats(
    long totalBytes,
    long availableBytes,
    long usedBytes,
    long totalInodes,
    long freeInodes,
    long usedInodes) {

  /**
   * These figures as a volume of {@code capacityBytes} shows them where nothing enforces that size
   * (the embedded default): the capacity as the total, what the file system has left as available
   * but never more than the capacity, and the rest as used.
   */
  public FsStats withCapacity(long capacityBytes) {
    long available = Math.min(availableBytes, capacityBytes);
    return new FsStats(
        capacityBytes, available, capacityBytes - available, totalInodes, freeInodes, usedInodes);
  }
}

package io.jfscsi.host;

/** statvfs figures of a mounted file system. */
public record FsStats(
    long totalBytes,
    long availableBytes,
    long usedBytes,
    long totalInodes,
    long freeInodes,
    long usedInodes) {}

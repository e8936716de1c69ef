package io.jfscsi.mount;

import io.jfscsi.host.FsStats;
import java.util.Optional;

/** Usage of a published target, and why it is abnormal when it is. */
public record TargetStats(Optional<FsStats> usage, boolean abnormal, String condition) {}

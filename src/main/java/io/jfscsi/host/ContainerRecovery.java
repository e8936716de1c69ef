package io.jfscsi.host;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * The port that reaches containers holding a private, dead copy of a target in a mount namespace of
 * their own (no HostToContainer propagation), which binding the target again on the host cannot
 * reach. Not a mount-point operation of {@link Mounter}: it enters other namespaces. The real one
 * is {@link NamespaceRecovery}; actor simulations use {@link #NONE} or a fake.
 */
@FunctionalInterface
public interface ContainerRecovery {

  /** Reaches no container: for drivers and tests that have none to recover. */
  ContainerRecovery NONE = (volumeId, source, targets) -> List.of();

  /**
   * After a client is ready again and {@code targets} are bound again on the host: binds {@code
   * source}, the volume in the fresh client's mount (client mount path + subPath), again in every
   * container that holds a dead copy of one of {@code targets}. Only those targets, only namespaces
   * that hold them. Reports each container (the mount actor tries the retriable ones again later)
   * and never throws. Blocks for the helper's runs, bounded by its timeout.
   */
  List<ContainerOutcome> recover(String volumeId, Path source, Set<Path> targets);
}

package io.jfscsi.mount;

import io.jfscsi.client.ClientRecord;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.Mounter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;

/**
 * Binds of a recorded client's file system under the kubelet root that no record references: a
 * publish cut short by a driver crash between its bind and its record, or an unpublish lost with
 * the driver. Removed once, when the guardian starts; nothing else is touched: other drivers'
 * mounts have other devices.
 */
final class OrphanBinds {

  private OrphanBinds() {}

  static void unmount(Mounter mounter, List<ClientRecord> records, Path kubeletRoot, Logger log) {
    Set<Path> clientMounts = new HashSet<>();
    Set<Path> referenced = new HashSet<>();
    for (ClientRecord r : records) {
      r.running().ifPresent(c -> clientMounts.add(c.mountPath()));
      r.targets().forEach(t -> referenced.add(Path.of(t)));
    }
    List<MountEntry> table = mounter.mounts();
    Set<String> devices = new HashSet<>();
    table.stream()
        .filter(m -> clientMounts.contains(m.mountPoint()))
        .forEach(m -> devices.add(m.device()));
    for (MountEntry m : table) {
      if (devices.contains(m.device())
          && m.mountPoint().startsWith(kubeletRoot)
          && !referenced.contains(m.mountPoint())) {
        try {
          mounter.unmount(m.mountPoint());
          log.warn(
              "unmounted {}: a bind of a client of this node that no "
                  + "record references (publish or unpublish cut short by a driver crash)",
              m.mountPoint());
        } catch (MountException e) {
          log.error("cannot unmount the orphan bind {}: {}", m.mountPoint(), e.getMessage());
        }
      }
    }
  }
}

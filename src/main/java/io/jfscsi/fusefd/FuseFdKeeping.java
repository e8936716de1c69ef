package io.jfscsi.fusefd;

import java.nio.file.Path;
import java.util.Optional;

/**
 * The node's FUSE fd keepers as the Mount Pod runtime uses them: one per client that passes its fd,
 * opened before its pod starts (or when a restarted driver finds the pod), closed when the client
 * is stopped for good.
 */
public interface FuseFdKeeping {

  /** Opens the keeper of {@code upgradeId} in {@code dir} unless it is open; idempotent. */
  void open(String upgradeId, Path dir);

  /** Closes the keeper (the fd it holds with it) and removes its directory; idempotent. */
  void close(String upgradeId);

  /**
   * What the keeper holds now ({@code /dev/fuse} for a client's connection), empty when it holds
   * nothing or is not open. Blocking, briefly.
   */
  Optional<String> holding(String upgradeId);

  /** Where no fd is kept (local mode, or fuse-fd-dir ""). */
  FuseFdKeeping NONE =
      new FuseFdKeeping() {
        @Override
        public void open(String upgradeId, Path dir) {}

        @Override
        public void close(String upgradeId) {}

        @Override
        public Optional<String> holding(String upgradeId) {
          return Optional.empty();
        }
      };
}

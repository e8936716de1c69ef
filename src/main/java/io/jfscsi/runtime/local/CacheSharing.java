package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Function;

/**
 * Finds another client on this node that still uses the cache a stopping client would remove.
 * Clients of one file system share CACHE_DIR/UUID when their cache directories meet: several
 * volumes (or sub-paths) of one file system, or the same volume with other mount options. Their
 * records are the runtime's only view of them, so each other record is parsed again for its metaurl
 * and cache directories.
 *
 * <p>Removing a cache someone uses can lose data (writeback blocks not yet uploaded), keeping one
 * only costs disk: whenever it cannot tell, this answers "in use". One instance serves one clean-up
 * call on one thread; its UUID memo is not shared.
 */
final class CacheSharing {
  private record Other(ClientRecord record, Optional<VolumeSettings> settings, String parseError) {}

  private final VolumeSettings volume;
  private final String uuid;
  private final List<Other> others;
  private final Function<VolumeSettings, Optional<String>> uuidOf;
  private final Map<ClientKey, Optional<String>> uuids = new HashMap<>();

  /**
   * @param records every record of this node; the volume's own client (same key) is left out
   * @param uuidOf reads another file system's UUID ({@code juicefs status}); only called for a
   *     client with another metaurl whose cache directory contains ours
   */
  CacheSharing(
      ClientKey self,
      VolumeSettings volume,
      String uuid,
      List<ClientRecord> records,
      Function<VolumeSettings, Optional<String>> uuidOf) {
    this.volume = volume;
    this.uuid = uuid;
    this.uuidOf = uuidOf;
    List<Other> list = new ArrayList<>();
    for (ClientRecord r : records) {
      if (r.key().equals(self)) {
        continue;
      }
      try {
        list.add(new Other(r, Optional.of(SettingsParser.parse(r.source())), ""));
      } catch (RuntimeException e) { // a Failure from the parser names keys, never values
        list.add(new Other(r, Optional.empty(), String.valueOf(e.getMessage())));
      }
    }
    this.others = List.copyOf(list);
  }

  /** Who else uses {@code volumeCache} (CACHE_DIR/UUID of this volume), said for a log line. */
  Optional<String> userOf(Path volumeCache) {
    Path target = canonical(volumeCache);
    for (Other o : others) {
      String who = "client " + o.record().key();
      if (o.settings().isEmpty()) {
        return Optional.of(
            who
                + ", whose record cannot be parsed ("
                + o.parseError()
                + "), so its cache is unknown");
      }
      VolumeSettings s = o.settings().get();
      if (s.localDirectory().isPresent()) {
        continue; // served by bindfs: no cache
      }
      for (Path dir : cacheDirs(s)) {
        Path theirs = canonical(dir);
        if (theirs.startsWith(target)) {
          return Optional.of(who + " has its cache directory " + dir + " inside it");
        }
        if (target.startsWith(theirs)) {
          // Their cache is DIR/THEIR_UUID: it is ours, or holds ours, only for the same UUID.
          Optional<String> theirUuid = uuidOf(o.record().key(), s);
          if (theirUuid.isEmpty()) {
            return Optional.of(
                who + " caches in " + dir + " and the UUID of its file system could not be read");
          }
          if (target.startsWith(theirs.resolve(theirUuid.get()))) {
            return Optional.of(who + " mounts the same file system with cache directory " + dir);
          }
        }
      }
    }
    return Optional.empty();
  }

  private Optional<String> uuidOf(ClientKey key, VolumeSettings s) {
    // The same metaurl is the same file system: no need to ask it.
    if (s.metaUrl().reveal().equals(volume.metaUrl().reveal())) {
      return Optional.of(uuid);
    }
    return uuids.computeIfAbsent(key, k -> uuidOf.apply(s));
  }

  /** Absolute cache directories; JuiceFS's default when none is given; not "memory". */
  static List<Path> cacheDirs(VolumeSettings s) {
    List<Path> dirs =
        s.cacheDirs().isEmpty() ? List.of(ClientCache.DEFAULT_CACHE_DIR) : s.cacheDirs();
    return dirs.stream().filter(Path::isAbsolute).toList();
  }

  /** Through symbolic links where the path exists, so that two spellings of a directory meet. */
  static Path canonical(Path p) {
    try {
      return p.toRealPath();
    } catch (IOException e) {
      return p.toAbsolutePath().normalize();
    }
  }
}

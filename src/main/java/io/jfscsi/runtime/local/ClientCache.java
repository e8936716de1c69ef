package io.jfscsi.runtime.local;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.MetaPassword;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Removes a stopped client's cache. JuiceFS keeps a volume's blocks in CACHE_DIR/UUID, and a cache
 * directory is often shared by several volumes, so only the UUID sub-directory is removed, only
 * when the UUID is known (from {@code juicefs status}), and not while another recorded client uses
 * it (see {@link CacheSharing}); otherwise nothing is.
 */
final class ClientCache {
  private static final Logger log = LoggerFactory.getLogger(ClientCache.class);

  /** JuiceFS's default cache directory when run as root. */
  static final Path DEFAULT_CACHE_DIR = Path.of("/var/jfsCache");

  private static final Pattern UUID_FIELD = Pattern.compile("\"UUID\"\\s*:\\s*\"([^\"]*)\"");
  private static final Pattern UUID =
      Pattern.compile(
          "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}");

  private final LocalRuntimeConfig config;

  ClientCache(LocalRuntimeConfig config) {
    this.config = config;
  }

  /**
   * {@code records}: every client record on this node, the stopped client's own included or not.
   */
  void clean(ClientKey key, VolumeSettings settings, List<ClientRecord> records) {
    if (settings.localDirectory().isPresent()) {
      log.debug(
          "volume {} is a local directory served by bindfs: it has no cache", settings.volumeId());
      return;
    }
    if (!Files.isExecutable(config.juicefsBinary())) {
      log.warn(
          "cache of volume {} left in place: juicefs binary not found at {}",
          settings.volumeId(),
          config.juicefsBinary());
      return;
    }
    Optional<String> uuid = uuidOf(settings);
    if (uuid.isEmpty()) {
      log.warn("cache of volume {} left in place: its UUID could not be read", settings.volumeId());
      return;
    }
    CacheSharing sharing = new CacheSharing(key, settings, uuid.get(), records, this::uuidOf);
    // Relative entries (cache-dir=memory) are left out: they name no directory.
    for (Path dir : CacheSharing.cacheDirs(settings)) {
      Path volumeCache = dir.resolve(uuid.get());
      if (Files.isDirectory(volumeCache)) {
        Optional<String> user = sharing.userOf(volumeCache);
        if (user.isPresent()) {
          log.info(
              "left cache {} of volume {} in place: {}",
              volumeCache,
              settings.volumeId(),
              user.get());
          continue;
        }
        deleteTree(volumeCache);
        log.info("removed cache {} of volume {}", volumeCache, settings.volumeId());
      }
    }
  }

  private Optional<String> uuidOf(VolumeSettings settings) {
    Redactor redactor = Redactor.forSettings(settings);
    // ClientCommand has no status command line; this one is trivial. The metaurl is on argv as
    // for mount, without its password, which goes through META_PASSWORD (environment()).
    List<String> argv =
        List.of(
            config.juicefsBinary().toString(),
            "status",
            MetaPassword.split(settings.metaUrl().reveal()).url());
    Path out = null;
    try {
      Path tmp = config.stateDir().resolve("tmp");
      FileModes.createPrivateDirectories(tmp);
      out = Files.createTempFile(tmp, "status", ".json", FileModes.fileAttribute());
      ClientLog clientLog =
          new ClientLog(
              config.stateDir(), "cache-" + settings.volumeId().replaceAll("[^A-Za-z0-9_.-]", "_"));
      long offset = clientLog.begin("running " + redactor.redact(ClientCommand.redacted(argv)));
      int code =
          ClientLauncher.runCapturing(
              argv,
              ClientCommand.environment(settings),
              out,
              clientLog.file(),
              config.commandTimeout(),
              "juicefs status of volume " + settings.volumeId(),
              redactor.values());
      if (code != 0) {
        log.warn(
            "juicefs status of volume {} failed with {}; {}",
            settings.volumeId(),
            ClientLauncher.describeStatus(code),
            clientLog.tailSince(offset, redactor));
        return Optional.empty();
      }
      Matcher m = UUID_FIELD.matcher(Files.readString(out, StandardCharsets.UTF_8));
      // Only a well-formed UUID is used as a path component: never "", "..", or a path.
      if (m.find() && UUID.matcher(m.group(1)).matches()) {
        return Optional.of(m.group(1));
      }
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      log.warn(
          "juicefs status of volume {} failed: {}",
          settings.volumeId(),
          redactor.redact(e.toString()));
      return Optional.empty();
    } finally {
      if (out != null) {
        try {
          Files.deleteIfExists(out);
        } catch (IOException e) {
          log.debug("cannot remove {}", out);
        }
      }
    }
  }

  private static void deleteTree(Path root) {
    // Files.walk does not follow symbolic links: a link in the cache cannot lead outside it.
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      log.warn("cannot fully remove cache {}: {}", root, e.toString());
    }
  }
}

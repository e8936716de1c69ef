package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What runs for a volume: bindfs on its local directory (the embedded default) or the real juicefs
 * client, whose volume is formatted first. {@link #check} refuses a volume that cannot start before
 * anything on the host is touched.
 */
final class ClientPlan {
  private static final Logger log = LoggerFactory.getLogger(ClientPlan.class);

  /**
   * The client's command line, the environment to add to the driver's, the command line as logs may
   * show it, and the values to mask in its output (none for bindfs, which gets no secret and so can
   * print none).
   */
  record Command(List<String> argv, Map<String, String> env, String shown, List<String> masks) {}

  private final LocalRuntimeConfig config;

  ClientPlan(LocalRuntimeConfig config) {
    this.config = config;
  }

  void check(ClientKey key, VolumeSettings settings) {
    settings
        .localDirectory()
        .ifPresentOrElse(dir -> checkLocalDirectory(key, dir), this::checkJuicefs);
  }

  /** For juicefs, runs {@code juicefs format} (blocking); then returns the client's command. */
  Command prepare(
      ClientKey key,
      VolumeSettings settings,
      Path mountPath,
      Redactor redactor,
      ClientLog clientLog) {
    if (settings.localDirectory().isPresent()) {
      // The directory checked, not a name that could be swapped for a symlink since.
      Path served = realPath(settings.localDirectory().get());
      List<String> argv =
          List.of(
              config.bindfsBinary().toString(),
              "-f",
              "-o",
              "allow_other",
              served.toString(),
              mountPath.toString());
      return new Command(argv, Map.of(), redactor.redact(argv), List.of());
    }
    format(key, settings, redactor, clientLog);
    List<String> argv = juicefs().mountArgs(settings, mountPath);
    // ClientCommand masks juicefs argv by position (the metaurl); the Redactor by value.
    return new Command(
        argv,
        ClientCommand.environment(settings),
        redactor.redact(ClientCommand.redacted(argv)),
        redactor.values());
  }

  private ClientCommand juicefs() {
    return new ClientCommand(config.juicefsBinary().toString());
  }

  /**
   * A local directory is served read-write to every pod with allow_other: only beneath the
   * configured roots, judged on the normalized path first and on the real path (symlinks resolved)
   * once it exists, so that neither "/" nor a symlink out of a root gets through.
   */
  private void checkLocalDirectory(ClientKey key, Path dir) {
    // A local directory is named by its path, not a credential, so messages may show it.
    if (!dir.isAbsolute()) {
      throw Failure.invalid(
          "the local directory "
              + Quoted.path(dir)
              + " of volume "
              + key.volumeId()
              + " is not an absolute path");
    }
    if (!beneathRoots(dir.normalize(), config.localRoots())) {
      throw refusedDirectory(key, dir);
    }
    if (!Files.exists(dir)) {
      throw Failure.notFound(
          "the local directory "
              + Quoted.path(dir)
              + " of volume "
              + key.volumeId()
              + " does not exist");
    }
    if (!Files.isDirectory(dir)) {
      throw Failure.precondition(
          "the local directory "
              + Quoted.path(dir)
              + " of volume "
              + key.volumeId()
              + " is not a directory");
    }
    List<Path> realRoots =
        config.localRoots().stream().filter(Files::isDirectory).map(ClientPlan::realPath).toList();
    Path real = realPath(dir);
    if (!beneathRoots(real, realRoots)) {
      throw refusedDirectory(key, dir);
    }
    // Whatever the roots allow: never the driver's own directories, nor what holds them, nor
    // what lies in the kubelet root or the mount root (pods' and clients' mounts).
    for (Path own : config.neverServed()) {
      Path ownReal = Files.exists(own) ? realPath(own) : own;
      boolean inside = !own.equals(config.stateDir()) && real.startsWith(ownReal);
      if (inside || ownReal.startsWith(real)) {
        throw Failure.invalid(
            "the local directory "
                + dir
                + " of volume "
                + key.volumeId()
                + (inside ? " lies in " : " holds ")
                + own
                + ", a directory of the driver's own");
      }
    }
  }

  private Failure refusedDirectory(ClientKey key, Path dir) {
    return Failure.invalid(
        "the local directory "
            + dir
            + " of volume "
            + key.volumeId()
            + " is not beneath a directory the embedded default may serve ("
            + config.localRoots().stream().map(Path::toString).collect(Collectors.joining(", "))
            + "; see jfs-csi.local.allowed-roots)");
  }

  private static boolean beneathRoots(Path dir, List<Path> roots) {
    return roots.stream().anyMatch(dir::startsWith);
  }

  private static Path realPath(Path dir) {
    try {
      return dir.toRealPath();
    } catch (IOException e) {
      return dir.toAbsolutePath().normalize();
    }
  }

  private void checkJuicefs() {
    if (!Files.isExecutable(config.juicefsBinary())) {
      throw Failure.precondition(
          "juicefs binary not found at "
              + config.juicefsBinary()
              + "; the embedded default serves only local:// metaurls");
    }
  }

  private void format(
      ClientKey key, VolumeSettings settings, Redactor redactor, ClientLog clientLog) {
    Path rsaKey = rsaKeyFile(key);
    try {
      settings.encryptRsaKey().ifPresent(k -> writeRsaKey(rsaKey, k.reveal()));
      format(key, settings, rsaKey, redactor, clientLog);
    } finally {
      try {
        Files.deleteIfExists(rsaKey);
      } catch (IOException e) {
        log.warn("cannot remove the RSA key file {}: {}", rsaKey, e.getMessage());
      }
    }
  }

  /**
   * Where {@code juicefs format} reads the volume's RSA key from: a file of the client in a 0700
   * directory of the state directory, 0600, there only while the format runs (the key is in the
   * volume's metadata afterwards, and the client's mount needs only the passphrase).
   */
  Path rsaKeyFile(ClientKey key) {
    return config.stateDir().resolve("keys").resolve(SafeNames.of(key) + ".pem");
  }

  private static void writeRsaKey(Path file, String pem) {
    try {
      FileModes.createPrivateDirectories(file.getParent());
      Files.deleteIfExists(file);
      FileModes.createPrivateFile(file);
      Files.writeString(file, pem);
    } catch (IOException e) {
      throw Failure.internal("cannot write the volume's RSA key file " + file, e);
    }
  }

  private void format(
      ClientKey key, VolumeSettings settings, Path rsaKey, Redactor redactor, ClientLog clientLog) {
    List<String> argv = juicefs().formatArgs(settings, rsaKey);
    clientLog.run(
        argv,
        ClientCommand.environment(settings),
        config.commandTimeout(),
        "juicefs format of volume " + key.volumeId(),
        redactor,
        Failure.Code.INTERNAL);
    log.debug("formatted volume {} for client {}", key.volumeId(), key);
  }
}

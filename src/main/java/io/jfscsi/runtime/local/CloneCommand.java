package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.client.SafeNames;
import io.jfscsi.host.Beneath;
import io.jfscsi.host.MountException;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.host.TreeCopy;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Files;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Copies a directory of a mounted volume to a new name in it: {@code juicefs clone -p} for a real
 * JuiceFS volume (a copy in the metadata alone, as the Go driver makes snapshots), and a plain copy
 * that keeps modes, owners and times for the embedded default, whose local directory has no clone
 * ({@link TreeCopy}). The clone's output goes to {@code state-dir/logs/clone-<volume>.log}.
 */
final class CloneCommand {
  private static final Logger log = LoggerFactory.getLogger(CloneCommand.class);

  private final LocalRuntimeConfig config;

  CloneCommand(LocalRuntimeConfig config) {
    this.config = config;
  }

  void copy(VolumeSettings fs, PathBeneath source, PathBeneath target) {
    try {
      if (fs.localDirectory().isPresent()) {
        TreeCopy.Tally tally = TreeCopy.copy(source, target);
        if (tally.skipped() > 0) {
          log.warn(
              "copy of {} to {}: {} sockets, FIFOs or devices left out",
              source,
              target,
              tally.skipped());
        }
        return;
      }
      // The clone resolves its paths itself: the source must be reached without a link first.
      if (!Beneath.isDirectory(source)) {
        throw Failure.notFound(source + " is not a directory reached without a symbolic link");
      }
    } catch (MountException e) {
      throw e.refused() || e.notFound()
          ? Failure.invalid("cannot copy " + source + ": " + e.getMessage())
          : Failure.internal("cannot copy " + source + " to " + target + ": " + e.getMessage(), e);
    }
    if (!Files.isExecutable(config.juicefsBinary())) {
      throw Failure.precondition(
          "cannot clone " + source + ": juicefs binary not found at " + config.juicefsBinary());
    }
    List<String> argv =
        new ClientCommand(config.juicefsBinary().toString())
            .cloneArgs(source.path(), target.path());
    new ClientLog(config.stateDir(), "clone-" + SafeNames.pathElement(fs.volumeId()))
        .run(
            argv,
            Map.of(),
            config.commandTimeout(),
            "juicefs clone of " + source.relative(),
            Redactor.forSettings(fs),
            Failure.Code.INTERNAL);
  }
}

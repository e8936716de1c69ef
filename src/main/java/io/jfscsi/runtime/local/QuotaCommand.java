package io.jfscsi.runtime.local;

import io.jfscsi.Failure;
import io.jfscsi.client.MountRuntime.QuotaOutcome;
import io.jfscsi.client.SafeNames;
import io.jfscsi.juicefs.ClientCommand;
import io.jfscsi.juicefs.DirectoryQuota;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Files;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Runs {@code juicefs quota set} on this host, as a one-shot command with its output masked into
 * the log {@code state-dir/logs/quota-<volume>.log}. The quota lives in the metadata engine: no
 * mount is needed. A local directory (the embedded default) has no metadata engine, so its quota
 * cannot be enforced: that is said once in the driver's log, and the capacity is only reported.
 */
final class QuotaCommand {
  private static final Logger log = LoggerFactory.getLogger(QuotaCommand.class);

  private final LocalRuntimeConfig config;

  /** Whether the embedded default's missing quota has been logged (once per process). */
  private final AtomicBoolean notEnforcedLogged = new AtomicBoolean();

  QuotaCommand(LocalRuntimeConfig config) {
    this.config = config;
  }

  QuotaOutcome set(VolumeSettings volume, DirectoryQuota quota) {
    if (volume.localDirectory().isPresent()) {
      if (notEnforcedLogged.compareAndSet(false, true)) {
        log.warn(
            "volume {}: the embedded default (a local directory) cannot enforce a quota; its"
                + " capacity of {} GiB is reported, not enforced (said once for every such volume)",
            volume.volumeId(),
            quota.gibibytes());
      }
      return QuotaOutcome.NOT_ENFORCED;
    }
    if (!Files.isExecutable(config.juicefsBinary())) {
      throw Failure.precondition(
          "cannot set the quota of volume "
              + volume.volumeId()
              + ": juicefs binary not found at "
              + config.juicefsBinary());
    }
    Redactor redactor = Redactor.forSettings(volume);
    List<String> argv =
        new ClientCommand(config.juicefsBinary().toString()).quotaSetArgs(volume, quota);
    ClientLog quotaLog =
        new ClientLog(config.stateDir(), "quota-" + SafeNames.pathElement(volume.volumeId()));
    quotaLog.run(
        argv,
        ClientCommand.environment(volume),
        config.commandTimeout(),
        "juicefs quota set of volume " + volume.volumeId(),
        redactor,
        Failure.Code.UNAVAILABLE);
    log.info(
        "volume {}: quota of {} GiB set on {}", volume.volumeId(), quota.gibibytes(), quota.path());
    return QuotaOutcome.SET;
  }
}

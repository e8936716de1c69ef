package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.host.ProcInfo;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.TestVolumes;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import org.awaitility.Awaitility;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What other users of the node can see of a client's secrets: its /proc/PID/cmdline and
 * /proc/PID/environ (owner only), and the client log. A fake {@code juicefs} that stays the client
 * process (bindfs runs as its child), checks that META_PASSWORD, ACCESS_KEY and SECRET_KEY reached
 * it through the environment, and prints them, as a careless client would; its format does the same
 * with SESSION_TOKEN and records its own argv and /proc/PID/cmdline.
 */
class ClientSecretsTest {

  @TempDir Path base;
  Path data;
  LocalRuntimeConfig config;

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    data = Files.createDirectory(base.resolve("data"));
    config =
        LocalRuntimeConfig.under(base)
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10));
  }

  @AfterEach
  void cleanUp() throws Exception {
    HostCleanup.killAndUnmountUnder(base);
    assertThat(HostCleanup.mountsUnder(base)).as("mounts left behind").isEmpty();
  }

  @Test
  void noSecretIsOnAClientsCommandLineOrInItsLog() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(config.withJuicefsBinary(fakeJuicefs(true)), new LinuxMounter());
    VolumeSettings s = TestVolumes.juicefs("vol-s", List.of());

    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();
    long pid = Long.parseLong(client.handle());

    String cmdline =
        Files.readString(Path.of("/proc/" + pid + "/cmdline"), StandardCharsets.UTF_8)
            .replace('\0', ' ');
    assertThat(cmdline).contains(" mount ", "redis://@127.0.0.1:6379/3");
    assertNoSecret(cmdline);
    for (long child :
        ProcessHandle.of(pid).orElseThrow().descendants().map(ProcessHandle::pid).toList()) {
      assertNoSecret(Files.readString(Path.of("/proc/" + child + "/cmdline")));
    }
    // The output filter has them, the client's own environment does not carry its variables.
    String environ = Files.readString(Path.of("/proc/" + pid + "/environ"));
    assertThat(environ).doesNotContain("JFS_CSI_MASK_");

    Path log = rt.logFileOf(client.key());
    Awaitility.await()
        .atMost(Duration.ofSeconds(5))
        .untilAsserted(
            () ->
                assertThat(Files.readString(log))
                    .contains(
                        "env META_PASSWORD=ok ACCESS_KEY=ok SECRET_KEY=ok",
                        "careless: meta "
                            + Redactor.MASK
                            + " keys "
                            + Redactor.MASK
                            + " "
                            + Redactor.MASK));
    assertNoSecret(Files.readString(log));
    // juicefs format got the session token from format-options through its environment only.
    assertThat(Files.readString(log))
        .contains("format env SESSION_TOKEN=ok", "careless format: token " + Redactor.MASK);
    String formatArgv = Files.readString(base.resolve("format.argv"));
    assertThat(formatArgv).contains("--trash-days=0").doesNotContain("session-token");
    assertNoSecret(formatArgv);
    rt.stop(client).toCompletableFuture().join();
  }

  @Test
  void aReadyTimeoutStopsEveryProcessOfTheClientsGroup() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config
                .withJuicefsBinary(fakeJuicefs(false))
                .withTimeouts(Duration.ofSeconds(2), Duration.ofSeconds(2), Duration.ofSeconds(10)),
            new LinuxMounter());
    VolumeSettings s = TestVolumes.juicefs("vol-t", List.of());

    Failure f;
    try {
      rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();
      throw new AssertionError("a client that never mounts started");
    } catch (CompletionException e) {
      f = (Failure) e.getCause();
    }

    assertThat(f.code()).isEqualTo(Failure.Code.UNAVAILABLE);
    assertThat(f.getMessage()).contains("helper started");
    assertNoSecret(f.getMessage());
    // The helper the client left in the background is gone with it.
    long helper = Long.parseLong(Files.readString(base.resolve("helper.pid")).strip());
    // SIGKILL is delivered at once, but the process takes a moment to become a zombie.
    assertThat(ProcInfo.awaitGone(helper, Duration.ofSeconds(2)))
        .as("helper %d is gone", helper)
        .isTrue();
  }

  private static void assertNoSecret(String text) {
    assertThat(text)
        .doesNotContain(
            TestVolumes.SECRET_KEY,
            TestVolumes.ACCESS_KEY,
            TestVolumes.META_PASSWORD,
            TestVolumes.SESSION_TOKEN);
  }

  /**
   * A juicefs stand-in. format succeeds; mount reports which secrets its environment holds, prints
   * them, and then serves through bindfs as its child ({@code mounts}) or starts a helper in the
   * background and never mounts.
   */
  private Path fakeJuicefs(boolean mounts) throws Exception {
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/bash
        case "$1" in
          format)
            printf '%s\n' "$0" "$@" > BASE/format.argv
            cat /proc/$$/cmdline | tr '\0' '\n' >> BASE/format.argv
            t=missing
            [ "$SESSION_TOKEN" = "ST" ] && t=ok
            echo "format env SESSION_TOKEN=$t"
            echo "careless format: token $SESSION_TOKEN"
            exit 0 ;;
          mount)
            m=missing; a=missing; s=missing
            [ "$META_PASSWORD" = "MP" ] && m=ok
            [ "$ACCESS_KEY" = "AK" ] && a=ok
            [ "$SECRET_KEY" = "SK" ] && s=ok
            echo "env META_PASSWORD=$m ACCESS_KEY=$a SECRET_KEY=$s"
            echo "careless: meta $META_PASSWORD keys $ACCESS_KEY $SECRET_KEY"
            for arg in "$@"; do last="$arg"; done
            if MOUNTS; then
              /usr/bin/bindfs -f -o allow_other DATA "$last" &
              wait
            else
              echo "helper started"
              sleep 1000 &
              echo $! > BASE/helper.pid
              exec sleep 1000
            fi
            ;;
        esac
        """
            .replace("MP", TestVolumes.META_PASSWORD)
            .replace("AK", TestVolumes.ACCESS_KEY)
            .replace("SK", TestVolumes.SECRET_KEY)
            .replace("ST", TestVolumes.SESSION_TOKEN)
            .replace("DATA", data.toString())
            .replace("MOUNTS", Boolean.toString(mounts))
            .replace("BASE", base.toString()));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }
}

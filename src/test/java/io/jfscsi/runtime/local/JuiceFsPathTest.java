package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.jfscsi.Failure;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.MetaPassword;
import io.jfscsi.juicefs.Redactor;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.Logs;
import io.jfscsi.testing.TestVolumes;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The real-JuiceFS path against a fake {@code juicefs} script that records its argv and, for {@code
 * mount}, execs bindfs on a local directory so that a real FUSE mount appears.
 */
class JuiceFsPathTest {
  static final String UUID = "5d8f1a3c-1111-2222-3333-444455556666";

  @TempDir Path base;
  Path data;
  Path argvLog;
  LocalRuntimeConfig config;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger("io.jfscsi");

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    data = Files.createDirectory(base.resolve("data"));
    argvLog = base.resolve("argv.log");
    config =
        LocalRuntimeConfig.under(base)
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10));
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void cleanUp() throws Exception {
    logger.detachAppender(logs);
    HostCleanup.killAndUnmountUnder(base);
    assertThat(HostCleanup.mountsUnder(base)).as("mounts left behind").isEmpty();
  }

  @Test
  void formatRunsBeforeMountWithFormatOptionsAndNoSecretInLogs() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config.withJuicefsBinary(fakeJuicefs("echo 'format: done'\nexit 0")),
            new LinuxMounter());
    VolumeSettings s = TestVolumes.juicefs("vol-j", List.of());
    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();

    List<String> calls = Files.readAllLines(argvLog);
    assertThat(calls).hasSize(3);
    assertThat(calls.get(0))
        .startsWith("format ")
        .contains(
            "--storage=file", "--bucket=/tmp/jfs-bucket", "--trash-days=0", "--block-size=4096")
        .endsWith(MetaPassword.split(s.metaUrl().reveal()).url() + " jfsvol");
    assertThat(calls.get(0))
        .as("the session token is never on the command line")
        .doesNotContain("session-token", TestVolumes.SESSION_TOKEN);
    assertThat(calls.get(1))
        .as("object storage keys and token reach format through its environment")
        .isEqualTo("env ACCESS_KEY=ok SECRET_KEY=ok SESSION_TOKEN=ok");
    assertThat(calls.get(2))
        .startsWith("mount ")
        .contains("--cache-size=100", "--no-usage-report")
        .endsWith(client.mountPath().toString());

    Files.writeString(client.mountPath().resolve("x"), "via fake juicefs");
    assertThat(data.resolve("x")).hasContent("via fake juicefs");

    String clientLog = Files.readString(rt.logFileOf(client.key()));
    assertThat(clientLog)
        .contains("format: done", "running ", " format ", "starting ", " mount ", Redactor.MASK);
    assertNoSecret(clientLog);
    assertThat(Logs.snapshot(logs))
        .extracting(ILoggingEvent::getFormattedMessage)
        .anySatisfy(m -> assertThat(m).startsWith("started client vol-j").contains(Redactor.MASK))
        .allSatisfy(this::assertNoSecret);

    rt.stop(client).toCompletableFuture().join();
    assertThat(client.mountPath()).doesNotExist();
  }

  @Test
  void failingFormatGivesTheRedactedTailAndNeverMounts() throws Exception {
    Path fake =
        fakeJuicefs(
            "echo \"connecting to "
                + TestVolumes.SECRET_KEY
                + "@bucket\"\n"
                + "echo '<FATAL>: format: bucket access denied' >&2\nexit 1");
    LocalProcessRuntime rt =
        new LocalProcessRuntime(config.withJuicefsBinary(fake), new LinuxMounter());
    VolumeSettings s = TestVolumes.juicefs("vol-k", List.of());
    Failure f = failureOf(rt, s);
    assertThat(f.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(f.getMessage())
        .contains(
            "juicefs format of volume vol-k failed with status 1",
            "<FATAL>: format: bucket access denied",
            "connecting to " + Redactor.MASK + "@bucket");
    assertNoSecret(f.getMessage());
    assertThat(Files.readAllLines(argvLog)).noneMatch(l -> l.startsWith("mount"));
    assertThat(rt.mountPathOf(TestVolumes.keyOf(s)))
        .satisfies(p -> assertThat(HostCleanup.mountsUnder(p)).isEmpty());
  }

  @Test
  void missingJuicefsBinaryIsAFailedPrecondition() {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config.withJuicefsBinary(base.resolve("absent")), new LinuxMounter());
    Failure f = failureOf(rt, TestVolumes.juicefs("vol-l", List.of()));
    assertThat(f.code()).isEqualTo(Failure.Code.FAILED_PRECONDITION);
    assertThat(f.getMessage())
        .isEqualTo(
            "juicefs binary not found at "
                + base.resolve("absent")
                + "; the embedded default serves only local:// metaurls");
  }

  @Test
  void cleanCacheRemovesOnlyTheVolumesUuidDirectory() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config.withJuicefsBinary(fakeJuicefs("exit 0")), new LinuxMounter());
    Path cacheA = base.resolve("cache-a");
    Path cacheB = base.resolve("cache-b");
    Files.createDirectories(cacheA.resolve(UUID).resolve("raw/chunks"));
    Files.writeString(cacheA.resolve(UUID).resolve("raw/chunks/0_4096"), "block");
    Files.createDirectories(cacheA.resolve("other-volume-uuid"));
    Files.createDirectories(cacheB.resolve(UUID));

    rt.cleanCache(TestVolumes.juicefs("vol-m", List.of(cacheA, cacheB)))
        .toCompletableFuture()
        .join();
    assertThat(cacheA.resolve(UUID)).doesNotExist();
    assertThat(cacheB.resolve(UUID)).doesNotExist();
    assertThat(cacheA.resolve("other-volume-uuid")).isDirectory();
    assertThat(Files.readAllLines(argvLog)).anyMatch(l -> l.startsWith("status "));
  }

  @Test
  void juicefsStatusOutputIsMaskedInItsLogAndTheDriversLog() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config.withJuicefsBinary(fakeJuicefs("exit 0")), new LinuxMounter());
    Path cache = base.resolve("cache");
    Files.createDirectories(cache.resolve(UUID));
    rt.cleanCache(TestVolumes.juicefs("vol-o", List.of(cache))).toCompletableFuture().join();
    assertThat(cache.resolve(UUID))
        .as("stdout, kept apart from stderr, still gave the UUID")
        .doesNotExist();
    String statusLog = Files.readString(config.stateDir().resolve("logs/cache-vol-o.log"));
    assertThat(statusLog)
        .contains(
            "status: meta "
                + Redactor.MASK
                + " keys "
                + Redactor.MASK
                + " "
                + Redactor.MASK
                + " "
                + Redactor.MASK)
        .doesNotContain("\"UUID\"");
    assertNoSecret(statusLog);
  }

  @Test
  void aFailingJuicefsStatusIsLoggedMasked() throws Exception {
    LocalProcessRuntime rt =
        new LocalProcessRuntime(
            config.withJuicefsBinary(fakeJuicefs("exit 0", "exit 3")), new LinuxMounter());
    Path cache = base.resolve("cache");
    Files.createDirectories(cache.resolve(UUID));
    rt.cleanCache(TestVolumes.juicefs("vol-p", List.of(cache))).toCompletableFuture().join();
    assertThat(cache.resolve(UUID)).isDirectory();
    assertThat(Logs.snapshot(logs))
        .extracting(ILoggingEvent::getFormattedMessage)
        .anySatisfy(
            m ->
                assertThat(m)
                    .contains(
                        "juicefs status of volume vol-p failed with status 3",
                        "status: meta " + Redactor.MASK))
        .allSatisfy(this::assertNoSecret);
    assertNoSecret(Files.readString(config.stateDir().resolve("logs/cache-vol-p.log")));
  }

  @Test
  void cleanCacheWithoutAUuidRemovesNothing() throws Exception {
    Path fake = fakeJuicefs("exit 0");
    Files.writeString(fake, Files.readString(fake).replace(UUID, "not-a-uuid"));
    LocalProcessRuntime rt =
        new LocalProcessRuntime(config.withJuicefsBinary(fake), new LinuxMounter());
    Path cache = base.resolve("cache");
    Files.createDirectories(cache.resolve(UUID));
    rt.cleanCache(TestVolumes.juicefs("vol-n", List.of(cache))).toCompletableFuture().join();
    assertThat(cache.resolve(UUID)).isDirectory();
  }

  static final String PEM =
      "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nMIIEpAIBAAKCAQEA-test-key\n"
          + "-----END RSA PRIVATE KEY-----\n";

  @Test
  void theRsaKeyReachesFormatAsAPrivateFileOnlyWhileItRuns() throws Exception {
    Path seen = base.resolve("seen");
    String body =
        """
        for a in "$@"; do
          case "$a" in --encrypt-rsa-key=*)
            f="${a#--encrypt-rsa-key=}"
            stat -c '%a %U' "$f" > SEEN.mode
            stat -c '%a' "$(dirname "$f")" > SEEN.dirmode
            cat "$f" > SEEN.key
            echo "$f" > SEEN.path;;
          esac
        done
        printf '%s' "$JFS_RSA_PASSPHRASE" > SEEN.pass
        exit 0"""
            .replace("SEEN", seen.toString());
    LocalProcessRuntime rt =
        new LocalProcessRuntime(config.withJuicefsBinary(fakeJuicefs(body)), new LinuxMounter());
    VolumeSettings plain = TestVolumes.juicefs("vol-e", List.of());
    var secrets = new java.util.HashMap<>(plain.source().secrets());
    secrets.put("encrypt_rsa_key", PEM);
    secrets.put("passphrase", "pass phrase 1\n");
    VolumeSettings s =
        io.jfscsi.juicefs.SettingsParser.parse(
            new io.jfscsi.juicefs.VolumeSource("vol-e", secrets, java.util.Map.of(), List.of()));
    RunningClient client =
        rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();

    assertThat(Files.readString(Path.of(seen + ".key"))).isEqualTo(PEM);
    assertThat(Path.of(seen + ".mode")).hasContent("600 root");
    assertThat(Path.of(seen + ".dirmode")).hasContent("700");
    Path keyFile = Path.of(Files.readString(Path.of(seen + ".path")).strip());
    assertThat(keyFile.startsWith(config.stateDir())).as("in the state directory").isTrue();
    assertThat(keyFile).as("removed once the format is done").doesNotExist();
    assertThat(Path.of(seen + ".pass")).hasContent("pass phrase 1");
    assertThat(Files.readAllLines(argvLog).getFirst()).contains("--encrypt-rsa-key=" + keyFile);
    String clientLog = Files.readString(rt.logFileOf(client.key()));
    assertThat(clientLog).doesNotContain("MIIEpAIBAAKCAQEA", "pass phrase 1");
    rt.stop(client).toCompletableFuture().join();
  }

  private void assertNoSecret(String text) {
    assertThat(text)
        .doesNotContain(
            TestVolumes.SECRET_KEY,
            TestVolumes.ACCESS_KEY,
            TestVolumes.META_PASSWORD,
            TestVolumes.SESSION_TOKEN);
  }

  private static Failure failureOf(LocalProcessRuntime rt, VolumeSettings s) {
    try {
      rt.start(TestVolumes.keyOf(s), s, Optional.empty(), e -> {}).toCompletableFuture().join();
    } catch (CompletionException e) {
      return (Failure) e.getCause();
    }
    throw new AssertionError("expected a Failure");
  }

  /**
   * A juicefs stand-in: records argv, runs {@code formatBody} for format, execs bindfs for mount.
   */
  private Path fakeJuicefs(String formatBody) throws Exception {
    return fakeJuicefs(formatBody, "exit 0");
  }

  private Path fakeJuicefs(String formatBody, String statusExit) throws Exception {
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/sh
        echo "$*" >> ARGV
        case "$1" in
          format)
            a=missing; s=missing; t=missing
            [ "$ACCESS_KEY" = "AK" ] && a=ok
            [ "$SECRET_KEY" = "SK" ] && s=ok
            [ "$SESSION_TOKEN" = "THE_TOKEN" ] && t=ok
            echo "env ACCESS_KEY=$a SECRET_KEY=$s SESSION_TOKEN=$t" >> ARGV
            FORMAT_BODY
            ;;
          mount)
            for arg in "$@"; do last="$arg"; done
            exec /usr/bin/bindfs -f -o allow_other DATA "$last"
            ;;
          status)
            # A careless client: its log line holds every secret it was given.
            echo "status: meta $META_PASSWORD keys $ACCESS_KEY $SECRET_KEY $SESSION_TOKEN" >&2
            echo '{"Setting": {"Name": "jfsvol", "UUID": "THE_UUID", "Storage": "file"}, "Sessions": []}'
            STATUS_EXIT
            ;;
        esac
        """
            .replace("ARGV", argvLog.toString())
            .replace("DATA", data.toString())
            .replace("AK", TestVolumes.ACCESS_KEY)
            .replace("SK", TestVolumes.SECRET_KEY)
            .replace("THE_TOKEN", TestVolumes.SESSION_TOKEN)
            .replace("THE_UUID", UUID)
            .replace("FORMAT_BODY", formatBody)
            .replace("STATUS_EXIT", statusExit));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }
}

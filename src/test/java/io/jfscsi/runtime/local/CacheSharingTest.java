package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.SettingsParser;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.testing.Logs;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * cleanCache against the records of other clients, with a fake {@code juicefs} whose {@code status}
 * answers a UUID per metaurl: ONE for two spellings of one file system, TWO for another, and a
 * failure for an unreachable one.
 */
class CacheSharingTest {
  static final String ONE = "5d8f1a3c-1111-2222-3333-444455556666";
  static final String TWO = "9e0b7c2d-aaaa-bbbb-cccc-ddddeeeeffff";
  static final String FS_ONE = "redis://127.0.0.1:6379/1";
  static final String FS_ONE_ALIAS = "redis://localhost:6379/1";
  static final String FS_TWO = "redis://127.0.0.1:6379/2";
  static final String UNREACHABLE = "redis://10.255.255.1:6379/9";

  @TempDir Path base;
  Path cache;
  Path argvLog;
  LocalProcessRuntime rt;
  final ListAppender<ILoggingEvent> logs = new ListAppender<>();
  final Logger logger = (Logger) LoggerFactory.getLogger("io.jfscsi");

  @BeforeEach
  void setUp() throws Exception {
    cache = Files.createDirectories(base.resolve("cache"));
    argvLog = base.resolve("argv.log");
    LocalRuntimeConfig config =
        LocalRuntimeConfig.under(base)
            .withJuicefsBinary(fakeJuicefs())
            .withTimeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ofSeconds(10));
    rt = new LocalProcessRuntime(config, new LinuxMounter());
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void cleanUp() {
    logger.detachAppender(logs);
  }

  @Test
  void skipsWhileAnotherClientOfTheSameFileSystemUsesTheCache() throws Exception {
    VolumeSettings stopped = recorded("vol-a", FS_ONE, cache);
    recorded("vol-b", FS_ONE, cache);
    Files.createDirectories(cache.resolve(ONE).resolve("raw"));

    rt.cleanCache(stopped).toCompletableFuture().join();

    assertThat(cache.resolve(ONE).resolve("raw")).isDirectory();
    assertThat(infos())
        .anySatisfy(
            m ->
                assertThat(m)
                    .startsWith("left cache " + cache.resolve(ONE) + " of volume vol-a in place")
                    .contains("client vol-b-", "mounts the same file system"));
    assertThat(statusCalls()).as("the same metaurl needs no second status").hasSize(1);
  }

  @Test
  void removesWhenNoOtherClientSharesIt() throws Exception {
    VolumeSettings stopped = recorded("vol-a", FS_ONE, cache); // its own record does not count
    recorded("vol-c", FS_TWO, cache); // another file system, same directory
    recorded("vol-d", FS_ONE, base.resolve("elsewhere")); // same file system, other directory
    Path local = Files.createDirectories(base.resolve("local"));
    rt.save(
        record(
            new VolumeSource(
                "vol-e",
                Map.of("name", "localvol", "metaurl", "local://" + local),
                Map.of(),
                List.of())));
    Files.createDirectories(cache.resolve(ONE).resolve("raw/chunks"));
    Files.writeString(cache.resolve(ONE).resolve("raw/chunks/0_4096"), "block");
    Files.createDirectories(cache.resolve(TWO));

    rt.cleanCache(stopped).toCompletableFuture().join();

    assertThat(cache.resolve(ONE)).doesNotExist();
    assertThat(cache.resolve(TWO)).as("vol-c's cache").isDirectory();
    assertThat(infos())
        .anySatisfy(
            m ->
                assertThat(m)
                    .isEqualTo("removed cache " + cache.resolve(ONE) + " of volume vol-a"));
  }

  @Test
  void sameFileSystemUnderAnotherMetaurlKeepsTheCache() throws Exception {
    VolumeSettings stopped = recorded("vol-a", FS_ONE, cache);
    recorded("vol-f", FS_ONE_ALIAS, cache);
    Files.createDirectories(cache.resolve(ONE));

    rt.cleanCache(stopped).toCompletableFuture().join();

    assertThat(cache.resolve(ONE)).isDirectory();
    assertThat(infos())
        .anySatisfy(m -> assertThat(m).contains("client vol-f-", "mounts the same file system"));
    assertThat(statusCalls()).anySatisfy(l -> assertThat(l).endsWith(FS_ONE_ALIAS));
  }

  @Test
  void aClientWhoseFileSystemCannotBeAskedKeepsTheCache() throws Exception {
    VolumeSettings stopped = recorded("vol-a", FS_ONE, cache);
    recorded("vol-g", UNREACHABLE, cache);
    Files.createDirectories(cache.resolve(ONE));

    rt.cleanCache(stopped).toCompletableFuture().join();

    assertThat(cache.resolve(ONE)).isDirectory();
    assertThat(infos())
        .anySatisfy(m -> assertThat(m).contains("client vol-g-", "could not be read"));
  }

  @Test
  void aCacheDirectoryInsideOursKeepsIt() throws Exception {
    VolumeSettings stopped = recorded("vol-a", FS_ONE, cache);
    recorded("vol-h", FS_TWO, cache.resolve(ONE).resolve("nested"));
    Files.createDirectories(cache.resolve(ONE).resolve("nested").resolve(TWO));

    rt.cleanCache(stopped).toCompletableFuture().join();

    assertThat(cache.resolve(ONE).resolve("nested").resolve(TWO)).isDirectory();
    assertThat(infos())
        .anySatisfy(
            m -> assertThat(m).contains("client vol-h-", "has its cache directory", "inside it"));
  }

  /** Saves a record for a juicefs volume and returns its parsed settings. */
  private VolumeSettings recorded(String volumeId, String metaurl, Path cacheDir) {
    VolumeSource source =
        new VolumeSource(
            volumeId,
            Map.of("name", "jfsvol", "metaurl", metaurl),
            Map.of(),
            List.of("cache-dir=" + cacheDir));
    rt.save(record(source));
    return SettingsParser.parse(source);
  }

  private static ClientRecord record(VolumeSource source) {
    VolumeSettings s = SettingsParser.parse(source);
    return new ClientRecord(
        new ClientKey(s.volumeId(), s.clientHash()),
        source,
        Set.of("/pods/x/target"),
        Optional.empty(),
        Optional.empty());
  }

  private List<String> infos() {
    return Logs.snapshot(logs).stream().map(ILoggingEvent::getFormattedMessage).toList();
  }

  private List<String> statusCalls() throws Exception {
    return Files.readAllLines(argvLog).stream().filter(l -> l.startsWith("status ")).toList();
  }

  private Path fakeJuicefs() throws Exception {
    Path script = base.resolve("bin").resolve("juicefs");
    Files.createDirectories(script.getParent());
    Files.writeString(
        script,
        """
        #!/bin/sh
        echo "$*" >> ARGV
        [ "$1" = status ] || exit 2
        case "$2" in
          FS_ONE|FS_ONE_ALIAS) uuid=ONE ;;
          FS_TWO) uuid=TWO ;;
          *) echo "cannot connect to $2" >&2; exit 1 ;;
        esac
        echo "{\\"Setting\\": {\\"Name\\": \\"fs\\", \\"UUID\\": \\"$uuid\\"}, \\"Sessions\\": []}"
        """
            .replace("ARGV", argvLog.toString())
            .replace("FS_ONE_ALIAS", FS_ONE_ALIAS)
            .replace("FS_ONE", FS_ONE)
            .replace("FS_TWO", FS_TWO)
            .replace("=ONE", "=" + ONE)
            .replace("=TWO", "=" + TWO));
    Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
    return script;
  }
}

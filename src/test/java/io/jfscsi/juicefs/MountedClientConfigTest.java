package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jfscsi.Failure;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MountedClientConfigTest {
  /** The shape of juicefs's vfs.Config as a CE 1.2 client writes it (fields abridged). */
  static final String CONFIG =
      """
      {"Meta":{"Strict":true,"Retries":10,"MaxDeletes":2,"Sid":42,"MountPoint":"/jfs/pvc-1"},
       "Format":{"Name":"fs1","UUID":"5a4d","Storage":"s3","TrashDays":1},
       "Chunk":{"CacheDir":"/var/jfsCache","BlockSize":4194304},
       "Version":"1.2.1+2024-08-30.cd871d19","Port":{"PrometheusAgent":"0.0.0.0:9567"},
       "AttrTimeout":1000000000,"Pid":27,"PPid":1,"CommPath":"/tmp/fuse_fd_comm.1",
       "StatePath":"/tmp/state1.json","FuseOpts":{"AllowOther":true}}
      """;

  @TempDir Path dir;

  @Test
  void theServingProcessAndTheSessionAreRead() throws Exception {
    Files.writeString(dir.resolve(".config"), CONFIG);
    assertThat(MountedClientConfig.read(dir, List.of("cache-size=100"), Duration.ofSeconds(2)))
        .isEqualTo(new MountedClientConfig(27, 42));
  }

  @Test
  void prefixInternalMovesTheFile() throws Exception {
    Files.writeString(dir.resolve(".jfs.config"), CONFIG);
    assertThat(MountedClientConfig.read(dir, List.of("prefix-internal"), Duration.ofSeconds(2)))
        .isEqualTo(new MountedClientConfig(27, 42));
  }

  @Test
  void aMissingFileIsAFailedPrecondition() {
    assertThatThrownBy(() -> MountedClientConfig.read(dir, List.of(), Duration.ofSeconds(2)))
        .isInstanceOf(Failure.class)
        .hasMessageContaining(dir.resolve(".config").toString())
        .hasMessageContaining("NoSuchFileException")
        .matches(e -> ((Failure) e).code() == Failure.Code.FAILED_PRECONDITION);
  }

  @Test
  void aFileWithoutAProcessOrNotJsonIsRefused() throws Exception {
    Files.writeString(dir.resolve(".config"), "{\"Meta\":{\"Sid\":3}}");
    assertThatThrownBy(() -> MountedClientConfig.read(dir, List.of(), Duration.ofSeconds(2)))
        .hasMessageContaining("names no serving process");
    Files.writeString(dir.resolve(".config"), "bindfs here");
    assertThatThrownBy(() -> MountedClientConfig.read(dir, List.of(), Duration.ofSeconds(2)))
        .hasMessageContaining("is not JSON");
  }

  @Test
  void aReadThatHangsIsGivenUpAfterTheTimeout() throws Exception {
    // A FIFO without a writer blocks its reader at open, as a stuck FUSE mount does.
    Path fifo = dir.resolve(".config");
    assertThat(new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor()).isZero();
    Instant start = Instant.now();
    assertThatThrownBy(() -> MountedClientConfig.read(dir, List.of(), Duration.ofMillis(300)))
        .hasMessageContaining("did not answer");
    assertThat(Duration.between(start, Instant.now())).isLessThan(Duration.ofSeconds(5));
  }
}

package io.jfscsi.warmup;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.cli.Main;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `jfs-csi warmup` against a real driver and its real FUSE client (the embedded default). */
class WarmupCommandTest {

  @TempDir Path dir;

  DriverFixture fixture;
  final StringWriter out = new StringWriter();
  final StringWriter err = new StringWriter();

  @BeforeEach
  void setUp() throws Exception {
    HostRequirements.requireFuse();
    fixture = new DriverFixture(dir).with("management.port", 0);
    Path volume = Files.createDirectories(fixture.data.resolve("pvc-w").resolve("models"));
    Files.write(volume.resolve("a.bin"), new byte[3000]);
    Files.write(volume.resolve("b.bin"), new byte[5000]);
    Files.writeString(fixture.data.resolve("pvc-w").resolve("other.txt"), "x");
    Files.writeString(fixture.data.resolve("outside.txt"), "not this volume's");
    fixture.start();
  }

  @AfterEach
  void tearDown() throws Exception {
    fixture.close();
  }

  int warmup(String... args) {
    String management = "http://127.0.0.1:" + fixture.driver().managementPort().orElseThrow();
    String[] argv = new String[args.length + 3];
    argv[0] = "warmup";
    System.arraycopy(args, 0, argv, 1, args.length);
    argv[args.length + 1] = "--management";
    argv[args.length + 2] = management;
    return Main.commandLine()
        .setOut(new PrintWriter(out))
        .setErr(new PrintWriter(err))
        .execute(argv);
  }

  @Test
  void readsEveryFileUnderThePathThroughTheServingClient() throws Exception {
    fixture.publish("pvc-w", fixture.target("pod-1", "pvc-w"));

    assertThat(warmup("pvc-w", "models")).isZero();
    assertThat(out.toString()).contains("(read through the client): 2 files, 8000 bytes");

    assertThat(warmup("pvc-w")).isZero(); // the whole volume: its subPath, nothing outside
    assertThat(out.toString()).contains("3 files, 8001 bytes");
  }

  @Test
  void refusesAPathOutsideTheVolumeAndAVolumeNotServedHere() throws Exception {
    fixture.publish("pvc-w", fixture.target("pod-1", "pvc-w"));
    assertThat(warmup("pvc-w", "../outside.txt")).isEqualTo(1);
    assertThat(err.toString()).contains("warm-up path ../outside.txt leaves the volume");

    assertThat(warmup("pvc-none")).isEqualTo(1);
    assertThat(err.toString()).contains("no client serves volume pvc-none on this node");
  }
}

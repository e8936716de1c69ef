package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.protobuf.Message;
import csi.v1.CapacityRange;
import csi.v1.CreateVolumeRequest;
import csi.v1.DeleteVolumeRequest;
import csi.v1.NodeGetVolumeStatsRequest;
import csi.v1.NodePublishVolumeRequest;
import csi.v1.NodeUnpublishVolumeRequest;
import csi.v1.ProbeRequest;
import csi.v1.ValidateVolumeCapabilitiesRequest;
import csi.v1.VolumeCapability;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.jfscsi.Quoted;
import io.jfscsi.testing.DriverFixture;
import io.jfscsi.testing.HostRequirements;
import io.jfscsi.testing.Trials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The driver tried as an attacker and a careless user would try it: seeded random trials, each a
 * valid Node or Controller request with one to three fields replaced by hostile strings (unicode,
 * spaces, NUL, control and invisible characters, path games, shell text, huge ones), durations and
 * sizes at and past their bounds, hostile map keys. Over the real socket, with real mounts and FUSE
 * clients. After every case: no INTERNAL, UNKNOWN or DEADLINE_EXCEEDED, no answer that echoes a
 * huge input, a healthy volume on the same driver still publishes and unpublishes, Probe is ready,
 * nothing new is mounted under the kubelet root; at the end no client runs and no record is left. A
 * failure names its seed: {@code -Djfscsi.seed=N} replays it.
 */
class AdversarialRequestsTest {

  /** Enough to meet every kind of field and value several times; seconds, not minutes. */
  static final int NODE_TRIALS = 120;

  static final int CONTROLLER_TRIALS = 40;

  /** Codes that say the driver, not the request, is at fault (or that it stopped answering). */
  static final Set<Status.Code> NEVER =
      EnumSet.of(
          Status.Code.INTERNAL,
          Status.Code.UNKNOWN,
          Status.Code.DEADLINE_EXCEEDED,
          Status.Code.UNIMPLEMENTED);

  @TempDir Path dir;

  DriverFixture driver;

  /** Outcomes per call, so that a suite that only ever meets one outcome shows it. */
  final Map<String, Integer> outcomes = new TreeMap<>();

  Path healthy;
  Path healthyAgain;
  List<String> baselineMounts;

  @BeforeEach
  void start() throws Exception {
    HostRequirements.requireFuse();
    driver =
        new DriverFixture(dir)
            .with("call-timeout", "10s")
            .with("publish-answer-deadline", "5s")
            .start();
    Files.createDirectories(driver.data.resolve("pvc-healthy"));
    Files.createDirectories(driver.data.resolve("pvc-1"));
    // The healthy volume stays published throughout: its client is the one every case must
    // leave serving.
    healthy = driver.target("pod-healthy", "pvc-healthy");
    healthyAgain = driver.target("pod-healthy-2", "pvc-healthy");
    driver.publish("pvc-healthy", healthy);
    baselineMounts = driver.mountsUnder();
  }

  @AfterEach
  void stop() throws Exception {
    if (driver != null) {
      driver.close();
    }
  }

  @Test
  void hostileNodeRequestsCostNothingButTheirOwnCall() throws Exception {
    int[] n = {0};
    Trials.run(
        "hostile node requests",
        NODE_TRIALS,
        random -> {
          Path target = target("pod-" + n[0]++);
          switch (random.nextInt(4)) {
            case 0, 1 -> publishCase(random, target);
            case 2 ->
                expectSane(
                    random,
                    "NodeUnpublishVolume",
                    () ->
                        driver
                            .csi()
                            .node()
                            .withDeadlineAfter(20, TimeUnit.SECONDS)
                            .nodeUnpublishVolume(
                                NodeUnpublishVolumeRequest.newBuilder()
                                    .setVolumeId(random.nextBoolean() ? hostile(random) : "pvc-1")
                                    .setTargetPath(
                                        random.nextBoolean()
                                            ? hostilePath(random)
                                            : target.toString())
                                    .build()));
            default ->
                expectSane(
                    random,
                    "NodeGetVolumeStats",
                    () ->
                        driver
                            .csi()
                            .node()
                            .withDeadlineAfter(20, TimeUnit.SECONDS)
                            .nodeGetVolumeStats(
                                NodeGetVolumeStatsRequest.newBuilder()
                                    .setVolumeId(
                                        random.nextBoolean() ? hostile(random) : "pvc-healthy")
                                    .setVolumePath(
                                        random.nextBoolean()
                                            ? hostilePath(random)
                                            : healthy.toString())
                                    .build()));
          }
          afterEachCase();
        });
    System.out.println("hostile node requests: " + outcomes);
    if (System.getProperty("jfscsi.seed") == null) { // a replay runs one trial only
      assertThat(outcomes)
          .as("the trials meet accepted and refused publishes")
          .containsKeys("NodePublishVolume OK", "NodePublishVolume INVALID_ARGUMENT");
    }
    unpublishHealthyAndAwaitNothingLeft();
  }

  @Test
  void hostileControllerRequestsCostNothingButTheirOwnCall() throws Exception {
    Trials.run(
        "hostile controller requests",
        CONTROLLER_TRIALS,
        random -> {
          var controller = driver.csi().controller().withDeadlineAfter(30, TimeUnit.SECONDS);
          switch (random.nextInt(3)) {
            case 0 -> {
              CreateVolumeRequest.Builder create =
                  CreateVolumeRequest.newBuilder()
                      .setName("pvc-" + Math.abs(random.nextInt()))
                      .addVolumeCapabilities(RWX)
                      .putAllSecrets(driver.secrets());
              for (int i = 1 + random.nextInt(2); i > 0; i--) {
                mutate(random, create);
              }
              CreateVolumeRequest request = create.build();
              if (expectSane(
                  random,
                  "CreateVolume " + describe(request),
                  () -> controller.createVolume(request))) {
                // Provisioned: delete it again, so that no record is left.
                controller.deleteVolume(
                    DeleteVolumeRequest.newBuilder()
                        .setVolumeId(request.getName())
                        .putAllSecrets(driver.secrets())
                        .build());
              }
            }
            case 1 ->
                expectSane(
                    random,
                    "DeleteVolume",
                    () ->
                        controller.deleteVolume(
                            DeleteVolumeRequest.newBuilder()
                                .setVolumeId(hostile(random))
                                .putAllSecrets(
                                    random.nextBoolean()
                                        ? driver.secrets()
                                        : Map.of(
                                            "name", hostile(random), "metaurl", hostile(random)))
                                .build()));
            default ->
                expectSane(
                    random,
                    "ValidateVolumeCapabilities",
                    () ->
                        controller.validateVolumeCapabilities(
                            ValidateVolumeCapabilitiesRequest.newBuilder()
                                .setVolumeId(hostile(random))
                                .addVolumeCapabilities(RWX)
                                .putParameters(hostile(random), hostile(random))
                                .build()));
          }
          afterEachCase();
        });
    System.out.println("hostile controller requests: " + outcomes);
    if (System.getProperty("jfscsi.seed") == null) { // a replay runs one trial only
      assertThat(outcomes)
          .as("the trials meet accepted and refused creates")
          .containsKeys("CreateVolume OK", "CreateVolume INVALID_ARGUMENT");
    }
    unpublishHealthyAndAwaitNothingLeft();
  }

  // ---- cases ---------------------------------------------------------------------------

  private void publishCase(Random random, Path target) {
    NodePublishVolumeRequest.Builder publish =
        driver.publishRequest("pvc-1", target).putVolumeContext("subPath", "pvc-1");
    int mutations = 1 + random.nextInt(3);
    for (int i = 0; i < mutations; i++) {
      mutate(random, publish, target);
    }
    NodePublishVolumeRequest request = publish.build();
    if (expectSane(
        random,
        "NodePublishVolume " + describe(request),
        () ->
            driver
                .csi()
                .node()
                .withDeadlineAfter(20, TimeUnit.SECONDS)
                .nodePublishVolume(request))) {
      // Accepted (an odd but valid request): it must unpublish cleanly too.
      driver
          .csi()
          .node()
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .nodeUnpublishVolume(
              NodeUnpublishVolumeRequest.newBuilder()
                  .setVolumeId(request.getVolumeId())
                  .setTargetPath(request.getTargetPath())
                  .build());
    }
  }

  private void mutate(Random random, NodePublishVolumeRequest.Builder r, Path target) {
    switch (random.nextInt(12)) {
      case 0 -> r.setVolumeId(hostile(random));
      case 1 ->
          r.setTargetPath(
              random.nextBoolean()
                  ? hostilePath(random)
                  : target.getParent().resolve(safeForPath(hostile(random))).toString());
      case 2 ->
          r.setVolumeCapability(
              RWX.toBuilder()
                  .setMount(VolumeCapability.MountVolume.newBuilder().setFsType(hostile(random))));
      case 3 ->
          r.setVolumeCapability(
              RWX.toBuilder()
                  .setMount(
                      VolumeCapability.MountVolume.newBuilder().addMountFlags(mountFlag(random))));
      case 4 ->
          r.putSecrets(
              Trials.pick(
                  random,
                  List.of(
                      "name",
                      "metaurl",
                      "envs",
                      "format-options",
                      "configs",
                      "storage",
                      "bucket",
                      "access-key")),
              hostile(random));
      case 5 -> r.putSecrets("metaurl", "local://" + driver.data + "/" + hostile(random));
      case 6 -> r.putVolumeContext("subPath", hostile(random));
      case 7 -> r.putVolumeContext("juicefs/mount-delete-delay", pastLimitDuration(random));
      case 8 ->
          r.putVolumeContext(
              Trials.pick(
                  random,
                  List.of(
                      "juicefs/mount-cpu-limit",
                      "juicefs/mount-cpu-request",
                      "juicefs/mount-memory-limit",
                      "juicefs/mount-memory-request")),
              quantity(random));
      case 9 ->
          r.putVolumeContext(
              Trials.pick(
                  random,
                  List.of(
                      "mountOptions",
                      "juicefs/mount-image",
                      "juicefs/mount-cache-pvc",
                      "juicefs/clean-cache")),
              hostile(random));
      case 10 -> r.putVolumeContext(hostile(random), hostile(random));
      default -> r.putSecrets(hostile(random), hostile(random));
    }
  }

  private void mutate(Random random, CreateVolumeRequest.Builder r) {
    switch (random.nextInt(7)) {
      case 0 -> r.setName(hostile(random));
      case 1 ->
          r.putParameters(
              "juicefs/mount-delete-delay",
              random.nextBoolean()
                  ? pastLimitDuration(random)
                  : Trials.pick(random, AT_LIMIT_DURATIONS));
      case 2 ->
          r.putParameters(
              Trials.pick(random, List.of("juicefs/mount-cpu-limit", "juicefs/mount-memory-limit")),
              quantity(random));
      case 3 -> r.putParameters(hostile(random), hostile(random));
      case 4 ->
          r.putSecrets(
              Trials.pick(random, List.of("name", "metaurl", "envs", "format-options")),
              hostile(random));
      case 5 ->
          r.setCapacityRange(
              CapacityRange.newBuilder()
                  .setRequiredBytes(
                      Trials.pick(random, List.of(-1L, 0L, 1L, Long.MAX_VALUE, Long.MIN_VALUE)))
                  .setLimitBytes(Trials.pick(random, List.of(-1L, 0L, 1L, Long.MAX_VALUE))));
      default -> r.putParameters("subPath", hostile(random));
    }
  }

  // ---- hostile values --------------------------------------------------------------------

  static final List<String> PIECES =
      List.of(
          "é",
          "ü",
          "ボ",
          "\uD83C\uDF89",
          " ",
          "\t",
          "\n",
          "\r",
          "\0",
          "\u0001",
          "\u007f",
          "\u0085",
          "\u202e",
          "\u200b",
          "\uFEFF",
          "/",
          "..",
          ".",
          "//",
          "../",
          "$(id)",
          "`id`",
          ";",
          "&&",
          "|",
          "'",
          "\"",
          "\\",
          "%s%n",
          "${.pvc.name}",
          "*",
          "?",
          "[",
          "{",
          "}",
          ",",
          "=",
          ":",
          "a",
          "Z",
          "0",
          "-",
          "_");

  static String hostile(Random random) {
    return switch (random.nextInt(8)) {
      case 0 -> "";
      case 1 -> "x".repeat(3000 + random.nextInt(3000)); // beyond every bound we have
      case 2 -> "é".repeat(100 + random.nextInt(200));
      case 3 -> Trials.pick(random, PIECES);
      default -> {
        StringBuilder s = new StringBuilder();
        for (int i = 1 + random.nextInt(12); i > 0; i--) {
          s.append(Trials.pick(random, PIECES));
        }
        yield s.toString();
      }
    };
  }

  private String hostilePath(Random random) {
    return switch (random.nextInt(5)) {
      case 0 -> hostile(random);
      case 1 -> driver.kubelet + "/" + hostile(random);
      case 2 -> driver.kubelet + "/pods/" + hostile(random) + "/mount";
      case 3 -> "/" + "a/".repeat(2000 + random.nextInt(2000));
      default -> driver.kubelet + "/pods/x/../../" + hostile(random);
    };
  }

  /** A path element kubelet could make: no '/' or NUL (they are tried elsewhere). */
  private static String safeForPath(String s) {
    String cleaned = s.replace("/", "_").replace("\0", "_");
    return cleaned.isEmpty() || cleaned.equals(".") || cleaned.equals("..") ? "m" : cleaned;
  }

  static final List<String> AT_LIMIT_DURATIONS = List.of("0", "8760h", "8759h59m59s", "1ns");
  static final List<String> PAST_LIMIT_DURATIONS =
      List.of(
          "8760h0m1s",
          "8761h",
          "6000000h",
          "2562047h",
          "2562048h",
          "9999999999999999999h",
          "-1s",
          "-0.5h",
          "1e3s",
          "1d",
          "∞",
          "1 h",
          "1h\u00001m",
          ".h",
          "1..5h",
          "5",
          "1μs5",
          "1h-1m");

  static String pastLimitDuration(Random random) {
    return random.nextInt(5) == 0 ? hostile(random) : Trials.pick(random, PAST_LIMIT_DURATIONS);
  }

  static final List<String> QUANTITIES =
      List.of(
          "100000",
          "100001",
          "1Ei",
          "2Ei",
          "1e40",
          "1e41",
          "1e-41",
          "-1",
          "9223372036854775807",
          "9223372036854775808",
          "0.0001m",
          "1Gi",
          "8Ei",
          "1E",
          "10E",
          ".5",
          "5.",
          "1Ki1",
          "0x10");

  static String quantity(Random random) {
    return random.nextInt(5) == 0 ? hostile(random) : Trials.pick(random, QUANTITIES);
  }

  static final List<String> OPTIONS =
      List.of(
          "cache-size",
          "buffer-size",
          "attr-cache",
          "io-retries",
          "max-uploads",
          "free-space-ratio",
          "cache-mode",
          "subdir",
          "cache-dir",
          "upload-limit",
          "heartbeat",
          "writeback",
          "allow_other",
          "ro",
          "rw");
  static final List<String> OPTION_VALUES =
      List.of(
          "8796093022207",
          "8796093022208",
          "9E",
          "8E",
          "99999999999999999999",
          "9223372036",
          "9223372037",
          "2147483647",
          "2147483648",
          "-1",
          "1.5",
          "0777",
          "2562047h",
          "2562048h",
          "true",
          "false",
          "");

  static String mountFlag(Random random) {
    String name = random.nextInt(6) == 0 ? hostile(random) : Trials.pick(random, OPTIONS);
    String value = random.nextInt(3) == 0 ? hostile(random) : Trials.pick(random, OPTION_VALUES);
    return random.nextInt(8) == 0 ? name : name + "=" + value;
  }

  // ---- checks ------------------------------------------------------------------------------

  /**
   * Runs a call that may be refused; returns true when it succeeded. A refusal must carry a code
   * that blames the request and a bounded message that does not echo a huge input whole.
   */
  private boolean expectSane(Random random, String what, Supplier<?> call) {
    String rpc = what.split(" ")[0];
    try {
      var unused = call.get(); // only whether it is refused counts
      outcomes.merge(rpc + " OK", 1, Integer::sum);
      return true;
    } catch (StatusRuntimeException e) {
      Status status = e.getStatus();
      outcomes.merge(rpc + " " + status.getCode(), 1, Integer::sum);
      assertThat(NEVER).as("%s answered %s", what, status).doesNotContain(status.getCode());
      String description = String.valueOf(status.getDescription());
      assertThat(description.length())
          .as("length of the message of %s", what)
          .isLessThanOrEqualTo(StatusMapping.MAX_DESCRIPTION);
      // Inputs of thousands of characters are quoted cut (ids of up to 253 may be echoed).
      assertThat(description)
          .as("message of %s", what)
          .doesNotContain("x".repeat(300))
          .doesNotContain("a/".repeat(300));
      return false;
    } catch (RuntimeException e) {
      throw new AssertionError(what + " failed on the client side: " + e, e);
    }
  }

  /** The healthy volume still publishes and unpublishes, Probe is ready, nothing new mounted. */
  private void afterEachCase() {
    try {
      driver
          .csi()
          .node()
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .nodePublishVolume(driver.publishRequest("pvc-healthy", healthyAgain).build());
      Files.writeString(healthyAgain.resolve("probe"), "still serving");
      assertThat(healthy.resolve("probe")).hasContent("still serving");
      driver
          .csi()
          .node()
          .withDeadlineAfter(20, TimeUnit.SECONDS)
          .nodeUnpublishVolume(
              NodeUnpublishVolumeRequest.newBuilder()
                  .setVolumeId("pvc-healthy")
                  .setTargetPath(healthyAgain.toString())
                  .build());
      assertThat(
              driver
                  .csi()
                  .identity()
                  .withDeadlineAfter(20, TimeUnit.SECONDS)
                  .probe(ProbeRequest.getDefaultInstance())
                  .getReady()
                  .getValue())
          .as("Probe")
          .isTrue();
      List<String> mounts = new ArrayList<>(driver.mountsUnder());
      mounts.removeAll(baselineMounts);
      // A client of an accepted odd publish may still be stopping: its own mount point is under
      // mnt/, never under the kubelet root.
      assertThat(mounts)
          .as("mounts left under the kubelet root")
          .noneMatch(m -> m.startsWith(driver.kubelet.toString()));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private void unpublishHealthyAndAwaitNothingLeft() throws IOException {
    driver.unpublish("pvc-healthy", healthy);
    driver.awaitNoClients();
    try (Stream<Path> files = Files.walk(dir.resolve("state"))) {
      assertThat(
              files
                  .filter(Files::isRegularFile)
                  .map(Path::toString)
                  .filter(f -> f.endsWith(".properties") || f.endsWith(".targets"))
                  .toList())
          .as("records left")
          .isEmpty();
    }
  }

  private Path target(String pod) {
    try {
      return driver.target(pod, "pvc-1");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A request as it may be shown: huge strings cut. */
  private static String describe(Message request) {
    return Quoted.of(request.toString().replace('\n', ' '), 400);
  }

  static final VolumeCapability RWX = DriverFixture.RWX;
}

package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * The Mount Pods' mount root becomes a shared mount, on a host whose mounts are private (as this
 * machine's / is): by the driver itself when it runs on the host, and by the node plugin's init
 * container when it runs in a pod. Both leave a root that is shared already as it is.
 */
class SharedMountRootTest {
  @TempDir Path dir;
  Path root;

  @BeforeEach
  void privateParent() throws Exception {
    HostRequirements.requireRoot();
    // The test's own parent mount, private, so that the root starts out held by a private mount.
    run("mount", "--bind", dir.toString(), dir.toString());
    run("mount", "--make-private", dir.toString());
    root = dir.resolve("volume");
    assertThat(SharedMountRoot.isShared(dir)).isFalse();
  }

  @AfterEach
  void unmount() throws Exception {
    for (int i = 0; i < 4; i++) {
      new ProcessBuilder("umount", "-R", dir.toString()).start().waitFor(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void theDriverMakesAPrivateMountRootSharedOnceAndLeavesItSo() {
    assertThat(SharedMountRoot.ensure(root)).isEmpty();
    assertThat(SharedMountRoot.isShared(root)).isTrue();
    assertThat(layers(root)).isEqualTo(1);

    assertThat(SharedMountRoot.ensure(root)).as("a second start").isEmpty();
    assertThat(layers(root)).as("no second bind").isEqualTo(1);
  }

  @Test
  void aRootWithClientsMountedBeneathIsNotCoveredByABind() throws Exception {
    Path client = Files.createDirectories(root.resolve("pv-1-abcdef"));
    run("mount", "-t", "tmpfs", "client", client.toString());

    assertThat(SharedMountRoot.ensure(root))
        .hasValueSatisfying(
            why ->
                assertThat(why).contains("not a shared mount").contains("1 mounts are beneath it"));
    assertThat(layers(root)).as("no bind over the client").isZero();
    assertThat(layers(client)).isEqualTo(1);
  }

  @Test
  void aRootUnderASharedMountIsLeftAsItIs() throws Exception {
    run("mount", "--make-shared", dir.toString());
    assertThat(SharedMountRoot.ensure(root)).isEmpty();
    assertThat(layers(root)).as("no bind of its own").isZero();
  }

  @Test
  void theNodePluginsInitContainerMakesItSharedOnTheHostOnce() throws Exception {
    String script = initScript().replace("/var/lib/juicefs/volume", root.toString());

    assertThat(sh(script)).contains("made " + root + " a shared mount");
    assertThat(SharedMountRoot.isShared(root)).isTrue();
    assertThat(layers(root)).isEqualTo(1);
    assertThat(sh(script)).as("a restart of the node plugin").contains(root + " is a shared mount");
    assertThat(layers(root)).isEqualTo(1);
  }

  /** The script the init container runs in the host's mount namespace (its last argument). */
  @SuppressWarnings("unchecked")
  static String initScript() throws IOException {
    Load load = new Load(LoadSettings.builder().build());
    for (Object doc : load.loadAllFromString(Files.readString(Path.of("deploy/base/node.yaml")))) {
      Map<String, Object> m = (Map<String, Object>) doc;
      if (!"DaemonSet".equals(m.get("kind"))) {
        continue;
      }
      var spec =
          (Map<String, Object>)
              ((Map<String, Object>) ((Map<String, Object>) m.get("spec")).get("template"))
                  .get("spec");
      for (var init : (List<Map<String, Object>>) spec.get("initContainers")) {
        if ("shared-mount-root".equals(init.get("name"))) {
          List<String> command = (List<String>) init.get("command");
          assertThat(command.subList(0, 2)).containsExactly("sh", "-c");
          assertThat(command.get(2)).contains("exec nsenter --target=1 --mount -- sh -c \"$1\"");
          assertThat(((Map<String, Object>) init.get("securityContext")).get("privileged"))
              .isEqualTo(true);
          return command.getLast();
        }
      }
    }
    throw new AssertionError("deploy/base/node.yaml has no init container shared-mount-root");
  }

  static long layers(Path path) {
    return MountInfo.self().stream().filter(e -> e.mountPoint().equals(path)).count();
  }

  static String sh(String script) throws Exception {
    Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  static void run(String... command) throws Exception {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    assertThat(p.waitFor(10, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as("%s: %s", String.join(" ", command), out).isZero();
  }
}

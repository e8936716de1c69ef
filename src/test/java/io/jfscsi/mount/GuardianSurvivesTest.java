package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.WAIT;
import static io.jfscsi.mount.NodeHarness.assertOk;
import static io.jfscsi.mount.NodeHarness.failureOf;
import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.host.FsStats;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.testing.FakeMounter;
import io.jfscsi.testing.FakeRuntime;
import io.jfscsi.testing.TestClock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * The guardian routes every volume of the node: a call that fails inside it (here the mounter
 * throws what no port should) fails that call with INTERNAL, and every other call is served as
 * before. Before, the exception stopped the guardian and every later node call timed out.
 */
class GuardianSurvivesTest extends NodeTestBase {

  @Test
  void aCallThatThrowsInsideTheGuardianFailsAloneAndTheNodeServesOn() throws Exception {
    FakeMounter fake = new FakeMounter();
    Path cursed = node.target("pod-cursed", "pv-x");
    Mounter throwing =
        new Delegating(fake) {
          @Override
          public MountState probe(Path path) {
            if (path.equals(cursed)) {
              throw new IllegalStateException("a bug in a port (test)");
            }
            return super.probe(path);
          }
        };
    TestClock clock = new TestClock();
    Path mountRoot = Files.createDirectories(tempDir.resolve("jfs2"));
    FakeRuntime runtime = new FakeRuntime(fake, mountRoot, clock);
    ActorRef<NodeGuardian.Command> guardian =
        kit.spawn(NodeGuardian.create(runtime, throwing, node.containers, node.settings, clock));

    TestProbe<StatusReply<Done>> unpublish = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Unpublish("pv-x", cursed, unpublish.getRef()));
    Failure failure = failureOf(unpublish.receiveMessage(WAIT));
    assertThat(failure.code()).isEqualTo(Failure.Code.INTERNAL);
    assertThat(failure.getMessage()).contains("a bug in a port");

    VolumeSettings v = volume("pv-ok");
    Path t = node.target("pod-ok", "pv-ok");
    TestProbe<StatusReply<Done>> publish = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Publish(key(v), v, t, false, publish.getRef()));
    assertOk(publish.receiveMessage(WAIT));
    TestProbe<StatusReply<Done>> done = kit.createTestProbe();
    guardian.tell(new NodeGuardian.Unpublish("pv-ok", t, done.getRef()));
    assertOk(done.receiveMessage(WAIT));
    kit.stop(guardian, Duration.ofSeconds(3));
  }

  /** A mounter that passes everything to another. */
  static class Delegating implements Mounter {
    private final Mounter inner;

    Delegating(Mounter inner) {
      this.inner = inner;
    }

    @Override
    public void bind(Path source, Path target, boolean readOnly) throws MountException {
      inner.bind(source, target, readOnly);
    }

    @Override
    public void bind(PathBeneath source, PathBeneath target, boolean readOnly, boolean createSource)
        throws MountException {
      inner.bind(source, target, readOnly, createSource);
    }

    @Override
    public boolean createTarget(PathBeneath target) throws MountException {
      return inner.createTarget(target);
    }

    @Override
    public void unmount(Path target) throws MountException {
      inner.unmount(target);
    }

    @Override
    public MountState probe(Path path) {
      return inner.probe(path);
    }

    @Override
    public FsStats stats(Path path) throws MountException {
      return inner.stats(path);
    }

    @Override
    public List<MountEntry> mounts() {
      return inner.mounts();
    }
  }
}

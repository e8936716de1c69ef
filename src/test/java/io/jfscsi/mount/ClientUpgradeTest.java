package io.jfscsi.mount;

import static io.jfscsi.mount.NodeHarness.key;
import static io.jfscsi.mount.NodeHarness.volume;
import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RunningClient;
import io.jfscsi.juicefs.VolumeSettings;
import java.nio.file.Path;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.pattern.StatusReply;
import org.junit.jupiter.api.Test;

/**
 * A smooth upgrade through the mount actor, against the fake runtime: the runtime is asked, the
 * references carry over to the new client's record, and no target is touched; a runtime whose
 * client cannot pass its FUSE connection refuses, and nothing changes.
 */
class ClientUpgradeTest extends NodeTestBase {
  final VolumeSettings v = volume("pv-up");
  final ClientKey key = key(v);

  @Test
  void anUpgradeHandsTheClientOnAndKeepsEveryTargetAndReference() {
    Path a = node.target("pod-1", "pv-up");
    Path b = node.target("pod-2", "pv-up");
    node.publishOk(v, a);
    node.publishOk(v, b);
    RunningClient before = node.runtime.running(key).orElseThrow();
    int unmounts = node.mounter.unmountCount();
    node.runtime.passesFuseFds(true);

    StatusReply<String> answer = upgrade();

    assertThat(answer.isSuccess()).as(String.valueOf(answer)).isTrue();
    assertThat(answer.getValue()).contains(before.handle()).contains("2 targets untouched");
    assertThat(node.runtime.upgrades()).isEqualTo(1);
    RunningClient after = node.runtime.running(key).orElseThrow();
    assertThat(after.handle()).isEqualTo(before.handle() + "-upgraded");
    ClientRecord record = node.runtime.record(key).orElseThrow();
    assertThat(record.running().map(RunningClient::handle)).contains(after.handle());
    assertThat(record.targets()).containsExactlyInAnyOrder(a.toString(), b.toString());
    assertThat(node.mounter.isMounted(a)).isTrue();
    assertThat(node.mounter.isMounted(b)).isTrue();
    assertThat(node.mounter.unmountCount())
        .as("no target unbound or bound again")
        .isEqualTo(unmounts);
    assertThat(node.runtime.stopCount()).isZero();
    // The upgraded client serves on: a new publish and an unpublish still work.
    node.publishOk(v, node.target("pod-3", "pv-up"));
    node.unpublishOk("pv-up", a);
  }

  @Test
  void aClientThatCannotPassItsConnectionIsRefusedAndServesOn() {
    Path a = node.target("pod-1", "pv-up");
    node.publishOk(v, a);
    RunningClient before = node.runtime.running(key).orElseThrow();

    StatusReply<String> answer = upgrade();

    assertThat(answer.isError()).isTrue();
    assertThat(answer.getError()).isInstanceOf(Failure.class);
    assertThat(((Failure) answer.getError()).code()).isEqualTo(Failure.Code.FAILED_PRECONDITION);
    assertThat(answer.getError().getMessage())
        .contains("refused, nothing changed")
        .contains("bindfs")
        .contains("files open in it break");
    assertThat(node.runtime.running(key)).contains(before);
    assertThat(node.runtime.stopCount()).isZero();
    assertThat(node.mounter.isMounted(a)).isTrue();
    node.publishOk(v, node.target("pod-2", "pv-up"));
  }

  private StatusReply<String> upgrade() {
    TestProbe<java.util.List<org.apache.pekko.actor.typed.ActorRef<MountActor.Command>>> list =
        kit.createTestProbe();
    node.guardian().tell(new NodeGuardian.ListClients(list.getRef()));
    var actor = list.receiveMessage().getFirst();
    TestProbe<StatusReply<String>> reply = kit.createTestProbe();
    actor.tell(new MountActor.Upgrade(reply.getRef()));
    return reply.receiveMessage(NodeHarness.WAIT);
  }
}

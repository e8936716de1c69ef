package io.jfscsi.csi;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.csi.registration.InfoRequest;
import io.jfscsi.csi.registration.PluginInfo;
import io.jfscsi.csi.registration.RegistrationGrpc;
import io.jfscsi.csi.registration.RegistrationStatus;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The registration API the way kubelet's plugin watcher calls it: a gRPC client on the socket in
 * plugins_registry, GetInfo, then NotifyRegistrationStatus. (The real node test shows a real
 * kubelet registering the driver through it.)
 */
class KubeletRegistrationTest {

  @Test
  void answersKubeletAndKeepsItsRefusal(@TempDir Path root) throws Exception {
    Path csiSocket = root.resolve("plugins/csi.juicefs.com/csi.sock");
    try (KubeletRegistration registration =
            KubeletRegistration.start(
                root, "csi.juicefs.com", new Endpoint.Unix(csiSocket), Duration.ofSeconds(1));
        CsiClient client =
            CsiClient.connect(
                "unix://" + root.resolve("plugins_registry/csi.juicefs.com-reg.sock"))) {
      assertThat(Files.exists(KubeletRegistration.socketPath(root, "csi.juicefs.com"))).isTrue();
      var kubelet = RegistrationGrpc.newBlockingStub(client.channel());

      PluginInfo info = kubelet.getInfo(InfoRequest.getDefaultInstance());
      assertThat(info.getType()).isEqualTo("CSIPlugin");
      assertThat(info.getName()).isEqualTo("csi.juicefs.com");
      assertThat(info.getEndpoint()).isEqualTo(csiSocket.toString());
      assertThat(info.getSupportedVersionsList()).containsExactly("1.0.0");

      kubelet.notifyRegistrationStatus(
          RegistrationStatus.newBuilder()
              .setPluginRegistered(false)
              .setError("version 1.0.0 not supported")
              .build());
      assertThat(registration.refusal()).contains("version 1.0.0 not supported");
      kubelet.notifyRegistrationStatus(
          RegistrationStatus.newBuilder().setPluginRegistered(true).build());
      assertThat(registration.refusal()).isEmpty();
    }
    assertThat(Files.exists(KubeletRegistration.socketPath(root, "csi.juicefs.com"))).isFalse();
  }
}

package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ClientVersionTest {

  @Test
  void imagesFromCe121OnPassTheirFuseFdAndOlderOrUnnamedOnesDoNot() {
    assertThat(passes("juicedata/mount:ce-v1.2.1")).isTrue();
    assertThat(passes("juicedata/mount:ce-v1.2.3")).isTrue();
    assertThat(passes("registry.local:5000/juicedata/mount:ce-v1.3.0")).isTrue();
    assertThat(passes("juicedata/mount")).as("no tag: the newest").isTrue();
    assertThat(passes("juicedata/mount:ce-v1.2.0")).isFalse();
    assertThat(passes("juicedata/mount:ce-v1.1.5")).isFalse();
    assertThat(ClientVersion.ofImage("juicedata/mount:ce-nightly")).isEmpty();
    assertThat(ClientVersion.ofImage("localhost/jfs-mount:dev")).isEmpty();
    assertThat(ClientVersion.ofImage("registry.local:5000/juicedata/mount")).isPresent();
    assertThat(ClientVersion.ofImage("juicedata/mount@sha256:0123")).isEmpty();
  }

  @Test
  void theVersionCommandsOutputIsReadAndADevBuildIsNone() {
    assertThat(ClientVersion.ofOutput("juicefs version 1.2.1+2024-08-30.cfb3d5b"))
        .contains(new ClientVersion(1, 2, 1));
    assertThat(ClientVersion.ofOutput("juicefs version 1.1.2+2024-02-04.8dbd89a").get())
        .matches(v -> !v.passesFuseFd());
    assertThat(ClientVersion.ofOutput("juicefs version 1.3.0-dev+2025-01-01.abc")).isEmpty();
    assertThat(ClientVersion.ofOutput("bindfs 1.17.2")).isEmpty();
  }

  private static boolean passes(String image) {
    Optional<ClientVersion> v = ClientVersion.ofImage(image);
    return v.isPresent() && v.get().passesFuseFd();
  }
}

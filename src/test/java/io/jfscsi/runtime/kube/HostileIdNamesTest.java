package io.jfscsi.runtime.kube;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import io.jfscsi.csi.AdversarialStrings;
import io.jfscsi.testing.Trials;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Pattern;
import org.apache.pekko.actor.ActorPath;
import org.junit.jupiter.api.Test;

/**
 * Every volume id the CSI edge accepts becomes names that are valid wherever they go: a file name,
 * a Pekko actor name, a Kubernetes pod, Secret and label value; and two ids never share a name.
 * Before, an id with a space or a non-ASCII letter was an invalid actor name, which stopped the
 * node's routing actor.
 */
class HostileIdNamesTest {

  static final Pattern DNS_SUBDOMAIN =
      Pattern.compile("[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*");
  static final Pattern LABEL_VALUE =
      Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");

  @Test
  void everyAcceptedIdMakesValidAndDistinctNames() {
    Map<String, String> pathElements = new HashMap<>();
    Trials.run(
        "names of hostile volume ids",
        2000,
        random -> {
          String id = AdversarialStrings.acceptedVolumeId(random);
          ClientKey key = new ClientKey(id, "0123456789abcdef0123456789abcdef");

          String element = SafeNames.of(key);
          assertThat(element)
              .as("path element of %s", id)
              .matches("[A-Za-z0-9_.-]+")
              .doesNotStartWith(".");
          assertThat(element.getBytes(StandardCharsets.UTF_8).length).isLessThanOrEqualTo(255);
          assertThat(Path.of(element).getNameCount()).isEqualTo(1);
          assertThat(ActorPath.isValidPathElement("client-" + element + "-1"))
              .as("actor name of %s", id)
              .isTrue();
          String earlier = pathElements.putIfAbsent(SafeNames.pathElement(id), id);
          assertThat(earlier == null || earlier.equals(id))
              .as("%s and %s share a name", id, earlier)
              .isTrue();

          String pod = MountPodNames.podName("node-1", id, MountPodNames.randomSuffix());
          assertThat(pod).as("pod name of %s", id).matches(DNS_SUBDOMAIN);
          assertThat(pod.length()).isLessThanOrEqualTo(253);
          String secret = MountPodNames.secretName("node-1", key);
          assertThat(secret).as("Secret name of %s", id).matches(DNS_SUBDOMAIN);
          assertThat(secret.length()).isLessThanOrEqualTo(253);
          assertThat(MountPodNames.volumeLabel(id))
              .as("label of %s", id)
              .matches(LABEL_VALUE)
              .hasSizeLessThanOrEqualTo(63);
          Path mount = MountPodNames.mountPath(Path.of("/var/lib/juicefs/volume"), key, "abcdef");
          assertThat(mount.getParent()).isEqualTo(Path.of("/var/lib/juicefs/volume"));
          assertThat(mount.getFileName().toString())
              .matches("[A-Za-z0-9_.-]+")
              .doesNotStartWith(".");
        });
  }
}

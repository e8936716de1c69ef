package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.host.MountNamespaces.Namespace;
import io.jfscsi.host.StaleCopies.FreshVolume;
import io.jfscsi.host.StaleCopies.StaleCopy;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** Which entries of another namespace's mount table are dead copies of which target. */
class StaleCopiesTest {
  static final String UID = "7c1f0a2e-5b3d-4c8e-9f10-112233445566";
  static final Path TARGET =
      Path.of("/var/lib/kubelet/pods/" + UID + "/volumes/kubernetes.io~csi/pv-1/mount");
  static final Path OTHER_TARGET =
      Path.of("/var/lib/kubelet/pods/other-pod/volumes/kubernetes.io~csi/pv-1/mount");
  static final Path CLIENT = Path.of("/var/lib/juicefs/volume/pvc-ab12");

  /** The host after the restart: the fresh client on 0:60, the target bound again. */
  static final List<MountEntry> HOST =
      MountInfo.parse(
          """
      27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
      1234 27 0:60 / /var/lib/juicefs/volume/pvc-ab12 rw,nosuid,nodev,relatime shared:6 - fuse.juicefs JuiceFS:myjfs rw
      1240 27 0:60 /pv-1 %s rw,nosuid,nodev,relatime shared:6 - fuse.juicefs JuiceFS:myjfs rw
      """
              .formatted(TARGET));

  static final FreshVolume FRESH = FreshVolume.of(CLIENT.resolve("pv-1"), HOST).orElseThrow();

  static Namespace ns(String cgroup, String mountinfo) {
    return new Namespace(4026532100L, 4242, MountInfo.parse(mountinfo), cgroup);
  }

  @Test
  void theFreshVolumeIsTheDirectoryOfTheClientsMountThatHoldsTheSource() {
    assertThat(FRESH)
        .isEqualTo(
            new FreshVolume(
                CLIENT.resolve("pv-1"), "0:60", "fuse.juicefs", "JuiceFS:myjfs", "/pv-1"));
    assertThat(FreshVolume.of(CLIENT, HOST).orElseThrow().root()).isEqualTo("/");
    assertThat(FreshVolume.of(Path.of("relative"), HOST)).isEmpty();
  }

  @Test
  void aCopyAtTheTargetsOwnPathOnTheOldDeviceIsACopyOfThatTarget() {
    Namespace unshared =
        ns(
            "0::/\n",
            """
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        900 27 0:52 / /var/lib/juicefs/volume/pvc-ab12 rw,nosuid,nodev,relatime - fuse.juicefs JuiceFS:myjfs rw
        901 27 0:52 /pv-1 %s rw,nosuid,nodev,relatime - fuse.juicefs JuiceFS:myjfs rw
        """
                .formatted(TARGET));

    List<StaleCopy> copies = StaleCopies.in(unshared, FRESH, Set.of(TARGET));

    // The client's own root is a copy of the whole file system, not of the volume: not ours.
    assertThat(copies)
        .containsExactly(
            new StaleCopy(
                4026532100L,
                4242,
                Optional.of(TARGET),
                TARGET,
                CLIENT.resolve("pv-1"),
                Optional.empty()));
  }

  @Test
  void aCopyAnywhereInAContainerOfTheTargetsPodIsACopyOfThatTarget() {
    Namespace container =
        ns(
            """
        12:pids:/kubepods/burstable/pod%s/0123abcd
        0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod%s.slice/cri-containerd-0123abcd.scope
        """
                .formatted(UID, UID.replace('-', '_')),
            """
        2000 1999 0:300 / / rw,relatime - overlay overlay rw
        2001 2000 0:52 /pv-1 /data rw,nosuid,nodev,relatime - fuse.juicefs JuiceFS:myjfs rw
        2002 2000 0:52 /pv-1/logs /var/log/app ro,nosuid,nodev,relatime - fuse.juicefs JuiceFS:myjfs rw
        """);

    List<StaleCopy> copies = StaleCopies.in(container, FRESH, Set.of(OTHER_TARGET, TARGET));

    assertThat(copies)
        .extracting(StaleCopy::mountPoint)
        .containsExactly(Path.of("/data"), Path.of("/var/log/app"));
    assertThat(copies)
        .allSatisfy(
            c -> {
              assertThat(c.target()).contains(TARGET);
              assertThat(c.podUid()).contains(UID);
            });
    // A subPath of the volume is bound from the same sub-directory of the fresh mount.
    assertThat(copies.get(1).source()).isEqualTo(CLIENT.resolve("pv-1").resolve("logs"));
  }

  @Test
  void aCopyInAContainerOfAnotherPodHasNoTarget() {
    Namespace stranger =
        ns(
            "12:pids:/kubepods/burstable/pod" + UID + "0/abc\n",
            """
        2001 2000 0:52 /pv-1 /data rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        """);

    assertThat(StaleCopies.in(stranger, FRESH, Set.of(TARGET)))
        .singleElement()
        .satisfies(c -> assertThat(c.target()).isEmpty());
  }

  @Test
  void freshMountsOtherFileSystemsAndOtherVolumesAreNoCopies() {
    Namespace ns =
        ns(
            "0::/\n",
            """
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        901 27 0:60 /pv-1 %s rw,relatime master:6 - fuse.juicefs JuiceFS:myjfs rw
        902 27 0:52 /pv-10 /a rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        903 27 0:53 /pv-1 /b rw,relatime - fuse.juicefs JuiceFS:otherfs rw
        904 27 0:54 /pv-1 /c rw,relatime - fuse.bindfs JuiceFS:myjfs rw
        """
                .formatted(TARGET));

    assertThat(StaleCopies.in(ns, FRESH, Set.of(TARGET))).isEmpty();
  }

  @Test
  void onlyTheTopOfAStackCountsOnceAndOnlyIfItIsACopy() {
    Namespace recoveredOnTop =
        ns(
            "0::/\n",
            """
        901 27 0:52 /pv-1 %s rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        950 901 0:60 /pv-1 %s rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        """
                .formatted(TARGET, TARGET));
    Namespace twiceStale =
        ns(
            "0::/\n",
            """
        901 27 0:52 /pv-1 %s rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        950 901 0:52 /pv-1 %s rw,relatime - fuse.juicefs JuiceFS:myjfs rw
        """
                .formatted(TARGET, TARGET));

    assertThat(StaleCopies.in(recoveredOnTop, FRESH, Set.of(TARGET))).isEmpty();
    assertThat(StaleCopies.in(twiceStale, FRESH, Set.of(TARGET))).hasSize(1);
  }

  @Test
  void podUidsComeFromKubeletTargetPaths() {
    assertThat(StaleCopies.podUid(TARGET)).contains(UID);
    assertThat(StaleCopies.podUid(Path.of("/tmp/x/kubelet/pods/pod-3/volumes/v/pv/mount")))
        .contains("pod-3");
    assertThat(StaleCopies.podUid(Path.of("/mnt/somewhere/else"))).isEmpty();
  }

  @Test
  void aCgroupNamesAPodOnlyWithTheWholeUid() {
    assertThat(StaleCopies.cgroupNamesPod("3:pids:/kubepods/pod" + UID + "/c1\n", UID)).isTrue();
    assertThat(StaleCopies.cgroupNamesPod("3:pids:/kubepods/pod" + UID + "\n", UID)).isTrue();
    assertThat(
            StaleCopies.cgroupNamesPod(
                "0::/kubepods.slice/kubepods-besteffort-pod" + UID.replace('-', '_') + ".slice/x\n",
                UID))
        .isTrue();
    assertThat(StaleCopies.cgroupNamesPod("3:pids:/kubepods/pod" + UID + "1/c1\n", UID)).isFalse();
    assertThat(StaleCopies.cgroupNamesPod("3:pids:/kubepods/xpod" + UID + "/c1\n", UID)).isFalse();
    assertThat(StaleCopies.cgroupNamesPod("0::/\n", UID)).isFalse();
  }
}

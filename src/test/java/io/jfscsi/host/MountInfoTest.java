package io.jfscsi.host;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class MountInfoTest {

  @Test
  void parsesAPlainRootMount() {
    MountEntry e = MountInfo.parseLine("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw,discard");

    assertThat(e)
        .isEqualTo(
            new MountEntry(
                27,
                1,
                "254:0",
                "/",
                Path.of("/"),
                "rw,relatime",
                "ext4",
                "/dev/vda",
                "rw,discard",
                ""));
    assertThat(e.readOnly()).isFalse();
    assertThat(e.shared()).isFalse();
  }

  @Test
  void skipsAnyNumberOfOptionalFieldsUpToTheSeparator() {
    MountEntry none = MountInfo.parseLine("22 27 0:21 / /proc rw,relatime - proc proc rw");
    MountEntry one =
        MountInfo.parseLine(
            "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 - ext3 /dev/root rw,errors=continue");
    MountEntry three =
        MountInfo.parseLine(
            "40 35 98:0 / /mnt/x ro,noatime shared:5 master:2 propagate_from:1 - ext3 /dev/root ro");

    assertThat(none.fsType()).isEqualTo("proc");
    assertThat(one.fsType()).isEqualTo("ext3");
    assertThat(one.source()).isEqualTo("/dev/root");
    assertThat(one.superOptions()).isEqualTo("rw,errors=continue");
    assertThat(three.mountPoint()).isEqualTo(Path.of("/mnt/x"));
    assertThat(three.readOnly()).isTrue();
    assertThat(three.propagation()).isEqualTo("shared:5 master:2 propagate_from:1");
    assertThat(three.shared()).isTrue();
    assertThat(one.shared()).as("a slave only").isFalse();
  }

  @Test
  void aBindOfASubDirectoryCarriesThatDirectoryAsRoot() {
    MountEntry e =
        MountInfo.parseLine(
            "4107 29 254:0 /var/lib/jfs/vol-1/sub "
                + "/var/lib/kubelet/pods/7c1f/volumes/kubernetes.io~csi/pv-1/mount rw,relatime shared:1"
                + " - ext4 /dev/vda rw,discard");

    assertThat(e.root()).isEqualTo("/var/lib/jfs/vol-1/sub");
    assertThat(e.mountPoint())
        .isEqualTo(Path.of("/var/lib/kubelet/pods/7c1f/volumes/kubernetes.io~csi/pv-1/mount"));
    assertThat(e.device()).isEqualTo("254:0");
  }

  @Test
  void parsesFuseBindfsAndFuseJuicefsEntries() {
    MountEntry bindfs =
        MountInfo.parseLine(
            "42 27 0:39 / /tmp/exp/m rw,nosuid,nodev,relatime"
                + " - fuse.bindfs /tmp/exp/s rw,user_id=0,group_id=0,default_permissions,allow_other");
    MountEntry juicefs =
        MountInfo.parseLine(
            "1234 29 0:52 / /var/lib/juicefs/volume/pvc-ab12"
                + " rw,relatime shared:612 - fuse.juicefs JuiceFS:myjfs"
                + " rw,user_id=0,group_id=0,default_permissions,allow_other");

    assertThat(bindfs.fsType()).isEqualTo("fuse.bindfs");
    assertThat(bindfs.source()).isEqualTo("/tmp/exp/s");
    assertThat(juicefs.fsType()).isEqualTo("fuse.juicefs");
    assertThat(juicefs.source()).isEqualTo("JuiceFS:myjfs");
    assertThat(juicefs.superOptions()).contains("allow_other");
  }

  @Test
  void decodesOctalEscapesInPathsAndSource() {
    MountEntry e =
        MountInfo.parseLine(
            "50 27 0:40 /a\\040b /tmp/with\\040space\\011tab\\012nl\\134bs"
                + " rw - fuse.bindfs /src\\040dir rw");

    assertThat(e.root()).isEqualTo("/a b");
    assertThat(e.mountPoint()).isEqualTo(Path.of("/tmp/with space\ttab\nnl\\bs"));
    assertThat(e.source()).isEqualTo("/src dir");
  }

  @Test
  void leavesABackslashWithoutThreeOctalDigitsAlone() {
    assertThat(MountInfo.unescape("a\\9b\\04")).isEqualTo("a\\9b\\04");
    assertThat(MountInfo.unescape("plain")).isEqualTo("plain");
  }

  @Test
  void toleratesMissingSuperOptions() {
    MountEntry e = MountInfo.parseLine("60 27 0:41 / /x rw - tmpfs none");

    assertThat(e.source()).isEqualTo("none");
    assertThat(e.superOptions()).isEmpty();
  }

  @Test
  void rejectsALineWithoutSeparator() {
    assertThatThrownBy(() -> MountInfo.parseLine("27 1 254:0 / / rw,relatime ext4 /dev/vda rw"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("malformed");
  }

  @Test
  void parsesAWholeTableSkippingBlankLines() {
    List<MountEntry> entries =
        MountInfo.parse(
            """
        27 1 254:0 / / rw,relatime - ext4 /dev/vda rw
        22 27 0:21 / /proc rw,relatime - proc proc rw

        """);

    assertThat(entries).extracting(MountEntry::id).containsExactly(27, 22);
  }

  @Test
  void theTopMostOfStackedMountsIsTheOneNoOtherNamesAsParent() {
    List<MountEntry> entries =
        MountInfo.parse(
            """
        27 1 254:0 / / rw - ext4 /dev/vda rw
        90 27 0:50 / /t rw - tmpfs a rw
        95 27 0:51 / /other rw - tmpfs c rw
        91 90 0:52 / /t rw - tmpfs b rw
        """);

    assertThat(MountInfo.topMostAt(entries, Path.of("/t")))
        .get()
        .extracting(MountEntry::source)
        .isEqualTo("b");
    assertThat(MountInfo.topMostAt(entries, Path.of("/nothing"))).isEmpty();
  }

  @Test
  void aMountTuckedUnderneathByPropagationIsNotTakenForTheTop() {
    // Propagation can insert 92 below 90: then 90's parent becomes 92 although 92 is listed last.
    List<MountEntry> entries =
        MountInfo.parse(
            """
        90 92 0:50 / /t rw - tmpfs top rw
        92 27 0:52 / /t rw - tmpfs tucked rw
        """);

    assertThat(MountInfo.topMostAt(entries, Path.of("/t")))
        .get()
        .extracting(MountEntry::source)
        .isEqualTo("top");
  }

  @Test
  void readsThisProcessTable() {
    assertThat(MountInfo.self()).anyMatch(e -> e.mountPoint().equals(Path.of("/")));
  }
}

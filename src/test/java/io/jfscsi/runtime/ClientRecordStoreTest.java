package io.jfscsi.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.host.LinuxMounter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records through the runtime's public save/load/remove; needs no root. */
class ClientRecordStoreTest {
  static final Map<String, String> SECRETS = Map.of("name", "vol", "metaurl",
      "redis://:p=ss:w#rd\\x@host:6379/1", "secret-key", "sk-ünïcødé\nline2", "access-key", " leading space");

  @TempDir
  Path base;

  private LocalProcessRuntime runtime() {
    return new LocalProcessRuntime(LocalRuntimeConfig.under(base), new LinuxMounter());
  }

  private Path clientsDir() {
    return base.resolve("state").resolve("clients");
  }

  static ClientRecord record(String volumeId, int targets) {
    ClientKey key = new ClientKey(volumeId, "abcdef0123456789abcdef");
    Set<String> t = new HashSet<>();
    for (int i = 0; i < targets; i++) {
      t.add("/var/lib/kubelet/pods/p" + i + "/volumes/kubernetes.io~csi/pv/mount");
    }
    VolumeSource source = new VolumeSource(volumeId, SECRETS,
        Map.of("subPath", "a/b", "juicefs/mount-cpu-limit", "2", "targets", Integer.toString(targets)),
        List.of("cache-size=1024", "ro", "x=y=z"));
    RunningClient running = new RunningClient(key, Path.of("/var/lib/juicefs/volume/" + key.name()), "4242",
        Instant.parse("2026-11-26T10:15:30.123456789Z"));
    // The first target is published read-only: a restarted driver must bind it read-only again.
    Set<String> readOnly = t.isEmpty() ? Set.of()
        : Set.of("/var/lib/kubelet/pods/p0/volumes/kubernetes.io~csi/pv/mount");
    return new ClientRecord(key, source, t, readOnly,
        Optional.of(Instant.parse("2026-11-27T00:00:00Z")), Optional.of(running));
  }

  @Test
  void roundTripKeepsEverythingIncludingSecrets() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    ClientRecord bare = new ClientRecord(new ClientKey("pvc-2", "ffff"), new VolumeSource("pvc-2", Map.of(), Map.of(), List.of()),
        Set.of(), Optional.empty(), Optional.empty());
    rt.save(r);
    rt.save(bare);

    assertThat(runtime().load()).containsExactlyInAnyOrder(r, bare);
    assertThat(r.readOnlyTargets()).hasSize(1);
    assertThat(runtime().load().stream().filter(x -> x.key().equals(r.key())).findFirst().orElseThrow()
        .source().secrets()).isEqualTo(SECRETS);
    Path file = clientsDir().resolve(r.key().name() + ".properties");
    assertThat(Files.readString(file)).contains("source.secret.name=vol");

    rt.remove(r.key());
    rt.remove(r.key()); // idempotent
    assertThat(runtime().load()).containsExactly(bare);
  }

  @Test
  void filesAreOwnerOnly() throws Exception {
    runtime().save(record("pvc-1", 1));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(clientsDir()))).isEqualTo("rwx------");
    try (var files = Files.list(clientsDir())) {
      for (Path f : files.toList()) {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString()).isEqualTo("rw-------");
      }
    }
  }

  @Test
  void replaceIsAtomicForConcurrentReaders() throws Exception {
    LocalProcessRuntime rt = runtime();
    rt.save(record("pvc-1", 1));
    AtomicBoolean done = new AtomicBoolean();
    List<String> problems = new CopyOnWriteArrayList<>();
    AtomicInteger reads = new AtomicInteger();
    Thread reader = Thread.ofPlatform().start(() -> {
      while (!done.get()) {
        List<ClientRecord> seen = runtime().load();
        reads.incrementAndGet();
        if (seen.size() != 1) {
          problems.add("saw " + seen.size() + " records");
          continue;
        }
        // Each version is consistent with itself: a torn file would not be.
        ClientRecord r = seen.getFirst();
        if (!Integer.toString(r.targets().size()).equals(r.source().context().get("targets"))) {
          problems.add("inconsistent record with " + r.targets().size() + " targets");
        }
      }
    });
    for (int i = 1; i <= 300; i++) {
      rt.save(record("pvc-1", i % 40 + 1));
    }
    done.set(true);
    reader.join();
    assertThat(problems).isEmpty();
    assertThat(reads.get()).isPositive();
    try (var files = Files.list(clientsDir())) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .as("no temp file left, nothing moved aside").containsExactly("pvc-1-abcdef012345.properties");
    }
  }

  @Test
  void corruptFilesAreSkippedAndMovedAside() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord good = record("pvc-good", 2);
    rt.save(good);
    Files.writeString(clientsDir().resolve("truncated.properties"), "format=1\nkey.volumeId=pvc-x\n");
    Files.write(clientsDir().resolve("garbage.properties"), new byte[] {0, (byte) 0xff, '\\', 'u', 'z', 'z'});
    Path abandoned = clientsDir().resolve(".pvc-good.properties123.tmp");
    Files.writeString(abandoned, "half a rec");
    Files.setLastModifiedTime(abandoned, FileTime.from(Instant.now().minusSeconds(3600)));
    Path inProgress = clientsDir().resolve(".pvc-good.properties456.tmp");
    Files.writeString(inProgress, "a save in progress");

    assertThat(rt.load()).containsExactly(good);
    assertThat(clientsDir().resolve("truncated.properties.corrupt")).exists();
    assertThat(clientsDir().resolve("garbage.properties.corrupt")).exists();
    assertThat(abandoned).doesNotExist();
    assertThat(inProgress).as("a concurrent save's temp file is left alone").exists();
    assertThat(rt.load()).containsExactly(good);
  }

  @Test
  void oddVolumeIdsStayInsideTheStateDirectory() {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("../../etc/evil", 1);
    rt.save(r);
    assertThat(base.resolve("etc")).doesNotExist();
    assertThat(rt.mountPathOf(r.key()).getParent()).isEqualTo(base.resolve("volume"));
    assertThat(rt.load()).containsExactly(r);
    ClientRecord other = record("__.._etc_evil", 1);
    rt.save(other);
    assertThat(rt.load()).as("distinct ids keep distinct files").hasSize(2);
    Map<ClientKey, ClientRecord> byKey = new HashMap<>();
    rt.load().forEach(x -> byKey.put(x.key(), x));
    assertThat(byKey).containsKeys(r.key(), other.key());
  }
}

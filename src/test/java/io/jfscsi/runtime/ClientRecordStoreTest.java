package io.jfscsi.runtime;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.juicefs.VolumeSource;
import io.jfscsi.host.LinuxMounter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.io.StringWriter;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Tag;
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
    runtime().save(record("pvc-1", 3));
    try (var files = Files.walk(clientsDir())) {
      List<Path> all = files.toList();
      assertThat(all).hasSize(1 + 1 + 1 + 3); // clients/, the record, its targets directory, 3 targets
      for (Path f : all) {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f))).as(f.toString())
            .isEqualTo(Files.isDirectory(f) ? "rwx------" : "rw-------");
      }
    }
  }

  /** Version i of a growing client: targets p0..p(i-1), as MountActor saves one publish at a time. */
  private static ClientRecord version(int i) {
    ClientRecord base = record("pvc-1", 0);
    Set<String> t = new HashSet<>();
    for (int j = 0; j < i; j++) {
      t.add("/var/lib/kubelet/pods/p" + j + "/volumes/kubernetes.io~csi/pv/mount");
    }
    VolumeSource source = new VolumeSource(base.source().volumeId(), base.source().secrets(),
        Map.of("subPath", "a/b", "version", Integer.toString(i / 10)), base.source().mountFlags());
    return new ClientRecord(base.key(), source, t, Set.of(), base.deleteAt(), base.running());
  }

  @Test
  void concurrentReadersSeeEachChangeWhole() throws Exception {
    LocalProcessRuntime rt = runtime();
    rt.save(version(1));
    AtomicBoolean done = new AtomicBoolean();
    List<String> problems = new CopyOnWriteArrayList<>();
    AtomicInteger reads = new AtomicInteger();
    AtomicBoolean shrinking = new AtomicBoolean();
    Set<String> universe = version(150).targets();
    String always = "/var/lib/kubelet/pods/p0/volumes/kubernetes.io~csi/pv/mount";
    Thread reader = Thread.ofPlatform().start(() -> {
      while (!done.get()) {
        boolean shrinkingBefore = shrinking.get();
        List<ClientRecord> seen = runtime().load();
        boolean growingThroughout = !shrinkingBefore && !shrinking.get();
        reads.incrementAndGet();
        if (seen.size() != 1) {
          problems.add("saw " + seen.size() + " records");
          continue;
        }
        ClientRecord r = seen.getFirst();
        int n = r.targets().size();
        // Nothing invented, nothing present throughout lost, and the record file is whole.
        if (!universe.containsAll(r.targets()) || !r.targets().contains(always)) {
          problems.add("targets that were never saved, or p0 lost: " + r.targets());
        }
        // While targets are only added (one per save, as MountActor saves one publish at a
        // time), a reader sees one of the versions: each target file appears whole. (A load
        // is not a snapshot across files: while targets are removed, a slow reader can list
        // a file that is gone when it reads it. Only the driver's start and cache cleaning
        // load, and neither needs one.)
        if (growingThroughout && !r.targets().equals(version(n).targets())) {
          problems.add("targets are not a saved version: " + r.targets());
        }
        if (r.source().context().get("version") == null) {
          problems.add("record file without its context");
        }
      }
    });
    for (int i = 2; i <= 150; i++) {
      rt.save(version(i));
    }
    shrinking.set(true);
    for (int i = 149; i >= 1; i--) {
      rt.save(version(i));
    }
    done.set(true);
    reader.join();
    assertThat(problems).isEmpty();
    assertThat(reads.get()).isPositive();
    assertThat(runtime().load()).containsExactly(version(1));
    try (var files = Files.list(clientsDir())) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .as("no temp file left, nothing moved aside")
          .containsExactlyInAnyOrder("pvc-1-abcdef012345.properties", "pvc-1-abcdef012345.targets");
    }
    try (var files = Files.list(clientsDir().resolve("pvc-1-abcdef012345.targets"))) {
      assertThat(files.toList()).hasSize(1);
    }
  }

  @Test
  void aSaveWritesOnlyWhatChanged() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    rt.save(r);
    Path file = clientsDir().resolve(r.key().name() + ".properties");
    Path targets = clientsDir().resolve(r.key().name() + ".targets");
    Object recordInode = Files.readAttributes(file, BasicFileAttributes.class).fileKey();
    Map<String, Object> targetInodes = new HashMap<>();
    try (var files = Files.list(targets)) {
      for (Path f : files.toList()) {
        targetInodes.put(f.getFileName().toString(), Files.readAttributes(f, BasicFileAttributes.class).fileKey());
      }
    }

    Set<String> more = new HashSet<>(r.targets());
    more.add("/var/lib/kubelet/pods/new/volumes/kubernetes.io~csi/pv/mount");
    ClientRecord published = new ClientRecord(r.key(), r.source(), more, r.readOnlyTargets(), r.deleteAt(), r.running());
    rt.save(published);

    assertThat(Files.readAttributes(file, BasicFileAttributes.class).fileKey())
        .as("the record file is not rewritten when only the targets change").isEqualTo(recordInode);
    try (var files = Files.list(targets)) {
      List<Path> now = files.toList();
      assertThat(now).hasSize(4);
      for (Path f : now) {
        Object before = targetInodes.get(f.getFileName().toString());
        if (before != null) {
          assertThat(Files.readAttributes(f, BasicFileAttributes.class).fileKey()).isEqualTo(before);
        }
      }
    }
    assertThat(rt.load()).containsExactly(published);

    // The delayed exit changes: the record file is replaced, the targets stay.
    ClientRecord later = new ClientRecord(r.key(), r.source(), more, r.readOnlyTargets(),
        Optional.of(Instant.parse("2026-11-28T00:00:00Z")), r.running());
    rt.save(later);
    assertThat(rt.load()).containsExactly(later);

    // The last target goes: no target file is left, and remove() leaves nothing.
    ClientRecord empty = new ClientRecord(r.key(), r.source(), Set.of(), Set.of(), later.deleteAt(), r.running());
    rt.save(empty);
    assertThat(rt.load()).containsExactly(empty);
    try (var files = Files.list(targets)) {
      assertThat(files.toList()).isEmpty();
    }
    rt.remove(r.key());
    try (var files = Files.list(clientsDir())) {
      assertThat(files.toList()).isEmpty();
    }
  }

  @Test
  void aTargetCanBecomeReadOnlyAndStaleTargetFilesAreCorrected() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 2);
    rt.save(r);
    ClientRecord allReadOnly = new ClientRecord(r.key(), r.source(), r.targets(), r.targets(), r.deleteAt(), r.running());
    rt.save(allReadOnly);
    assertThat(rt.load()).containsExactly(allReadOnly);
    rt.save(r);
    assertThat(rt.load()).containsExactly(r);

    // A directory left by an earlier client with the same key (say a crash inside remove()):
    // the next save lists it and puts it right.
    rt.remove(r.key());
    Path targets = clientsDir().resolve(r.key().name() + ".targets");
    Files.createDirectories(targets);
    String stale = "/var/lib/kubelet/pods/stale/volumes/kubernetes.io~csi/pv/mount";
    Files.writeString(targets.resolve(ClientRecordStore.targetFileName(stale, false)), "rw\n" + stale + "\n");
    rt.save(r);
    assertThat(rt.load()).containsExactly(r);
  }

  /** The record as the driver before per-target files wrote it (format 1, targets inside). */
  private static String formatOne(ClientRecord r) throws Exception {
    Properties p = new Properties();
    p.setProperty("format", "1");
    p.setProperty("key.volumeId", r.key().volumeId());
    p.setProperty("key.settingsHash", r.key().settingsHash());
    p.setProperty("source.volumeId", r.source().volumeId());
    r.source().secrets().forEach((k, v) -> p.setProperty("source.secret." + k, v));
    r.source().context().forEach((k, v) -> p.setProperty("source.context." + k, v));
    p.setProperty("source.mountFlags.count", Integer.toString(r.source().mountFlags().size()));
    for (int i = 0; i < r.source().mountFlags().size(); i++) {
      p.setProperty("source.mountFlag." + i, r.source().mountFlags().get(i));
    }
    List<String> targets = r.targets().stream().sorted().toList();
    p.setProperty("targets.count", Integer.toString(targets.size()));
    for (int i = 0; i < targets.size(); i++) {
      p.setProperty("target." + i, targets.get(i));
      if (r.readOnlyTargets().contains(targets.get(i))) {
        p.setProperty("target." + i + ".readOnly", "true");
      }
    }
    r.deleteAt().ifPresent(t -> p.setProperty("deleteAt", t.toString()));
    r.running().ifPresent(c -> {
      p.setProperty("running.mountPath", c.mountPath().toString());
      p.setProperty("running.handle", c.handle());
      p.setProperty("running.startedAt", c.startedAt().toString());
    });
    StringWriter w = new StringWriter();
    p.store(w, "jfs-csi client record: holds secrets, keep 0600");
    return w.toString();
  }

  @Test
  void recordsOfTheEarlierFormatLoadAndAreConvertedWithoutLosingATarget() throws Exception {
    ClientRecord old = record("pvc-old", 5);
    Files.createDirectories(clientsDir());
    Path file = clientsDir().resolve(old.key().name() + ".properties");
    Files.writeString(file, formatOne(old));

    LocalProcessRuntime rt = runtime();
    assertThat(rt.load()).as("an upgraded driver reads the old record").containsExactly(old);

    // The first save after the upgrade: one target unpublished, the rest kept.
    Set<String> fewer = new HashSet<>(old.targets());
    fewer.remove("/var/lib/kubelet/pods/p4/volumes/kubernetes.io~csi/pv/mount");
    ClientRecord saved = new ClientRecord(old.key(), old.source(), fewer, old.readOnlyTargets(), old.deleteAt(), old.running());
    rt.save(saved);
    assertThat(Files.readString(file)).contains("format=2").doesNotContain("target.0");
    assertThat(runtime().load()).containsExactly(saved);
  }

  @Test
  void aDamagedTargetFileIsSkippedAndInventsNothing() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    rt.save(r);
    Path targets = clientsDir().resolve(r.key().name() + ".targets");
    String victim = "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv/mount";
    Path victimFile = targets.resolve(ClientRecordStore.targetFileName(victim, false));
    assertThat(victimFile).exists();
    // Torn: the path cut short (it would name another target if it were believed).
    Files.writeString(victimFile, "rw\n/var/lib/kubelet/pods/p1/vol");
    // Empty, as a crash can leave a file whose data never reached the disk.
    String other = "/var/lib/kubelet/pods/p2/volumes/kubernetes.io~csi/pv/mount";
    Files.write(targets.resolve(ClientRecordStore.targetFileName(other, false)), new byte[0]);
    // A well-formed file under the wrong name.
    Files.writeString(targets.resolve(ClientRecordStore.targetFileName("/elsewhere", false)), "rw\n/invented\n");
    // A save in progress (its temp file) is not a target yet.
    Files.writeString(targets.resolve(".abc.tmp"), "rw\n/in-progress\n");

    ClientRecord loaded = rt.load().getFirst();
    assertThat(loaded.targets()).containsExactly("/var/lib/kubelet/pods/p0/volumes/kubernetes.io~csi/pv/mount");
    assertThat(loaded.readOnlyTargets()).isEqualTo(r.readOnlyTargets());

    // The next save writes the damaged ones again (it cannot tell them from good ones by name,
    // so this is what recovery does: it re-saves what it keeps).
    rt.save(new ClientRecord(r.key(), r.source(), Set.of(), Set.of(), r.deleteAt(), r.running()));
    rt.save(r);
    assertThat(rt.load()).containsExactly(r);
  }

  @Test
  void secretsAndContextWithAnyCharactersRoundTrip() throws Exception {
    Map<String, String> secrets = new HashMap<>(SECRETS);
    secrets.put("tricky", " =:#!\\ \t\f\r\n\u0000\u0007\u007f\u00a0é€😀 \\u0041 trailing  ");
    secrets.put("empty", "");
    secrets.put("backslash-end", "x\\");
    secrets.put("#key", "!bang");
    Map<String, String> context = Map.of("key with spaces = and : colons", "v", "ünï", "\n leading newline",
        "\tkey", "  two leading spaces");
    ClientRecord base = record("pvc-1", 2);
    VolumeSource source = new VolumeSource("pvc-1", secrets, context, List.of(" flag ", "a=b", "x\ny"));
    ClientRecord r = new ClientRecord(base.key(), source, base.targets(), base.readOnlyTargets(), base.deleteAt(),
        base.running());

    String text = ClientRecordStore.encode(r);
    assertThat(text.chars().allMatch(c -> c == '\n' || (c >= 0x20 && c < 0x7f))).as("ASCII: " + text).isTrue();
    assertThat(ClientRecordStore.decode(text))
        .isEqualTo(new ClientRecord(r.key(), source, Set.of(), Set.of(), r.deleteAt(), r.running()));
    Properties p = new Properties();
    p.load(new java.io.StringReader(text));
    assertThat(p.getProperty("source.secret.tricky")).isEqualTo(secrets.get("tricky"));

    runtime().save(r);
    assertThat(runtime().load()).containsExactly(r);
    assertThat(ClientRecordStore.encode(r)).as("stable bytes").isEqualTo(text);
  }

  @Test
  void concurrentSavesOfDifferentClients() throws Exception {
    LocalProcessRuntime rt = runtime();
    int clients = 8;
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    List<Thread> threads = new java.util.ArrayList<>();
    for (int c = 0; c < clients; c++) {
      String volume = "pvc-" + c;
      threads.add(Thread.ofPlatform().start(() -> {
        try {
          for (int i = 1; i <= 40; i++) {
            rt.save(record(volume, i));
          }
          for (int i = 39; i >= 10; i--) {
            rt.save(record(volume, i));
          }
        } catch (Throwable t) {
          failures.add(t);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    assertThat(failures).isEmpty();
    List<ClientRecord> expected = new java.util.ArrayList<>();
    for (int c = 0; c < clients; c++) {
      expected.add(record("pvc-" + c, 10));
    }
    assertThat(runtime().load()).containsExactlyInAnyOrderElementsOf(expected);
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

  /**
   * Not a test: saves/s of publish/unpublish pairs, 16 clients of 64 targets saved from 16 threads
   * (as 16 mount-dispatcher threads would), and the encode cost. Excluded by default (tag
   * benchmark); run with {@code -Dsurefire.excludedGroups= -Dtest=ClientRecordStoreTest#benchmark}.
   */
  @Test
  @Tag("benchmark")
  void benchmark() throws Exception {
    ClientRecordStore store = new ClientRecordStore(clientsDir());
    int clients = 16;
    int targets = 64;
    int pairs = 2000;
    List<Thread> threads = new java.util.ArrayList<>();
    long start = System.nanoTime();
    for (int c = 0; c < clients; c++) {
      ClientRecord base = record("pvc-" + c, targets);
      threads.add(Thread.ofPlatform().start(() -> {
        store.save(base);
        for (int i = 0; i < pairs; i++) {
          Set<String> more = new HashSet<>(base.targets());
          more.add("/var/lib/kubelet/pods/extra" + i + "/volumes/kubernetes.io~csi/pv/mount");
          store.save(new ClientRecord(base.key(), base.source(), more, base.readOnlyTargets(), base.deleteAt(),
              base.running()));
          store.save(base);
        }
      }));
    }
    for (Thread t : threads) {
      t.join();
    }
    double seconds = (System.nanoTime() - start) / 1e9;
    long saves = (long) clients * (1 + 2L * pairs);
    System.out.printf("benchmark: %d saves in %.2f s: %.0f saves/s, %.1f us per save per thread%n",
        saves, seconds, saves / seconds, seconds * 1e6 * clients / saves);
    ClientRecord r = record("pvc-x", targets);
    for (int i = 0; i < 20_000; i++) {
      ClientRecordStore.encode(r);
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < 100_000; i++) {
      ClientRecordStore.encode(r);
    }
    System.out.printf("benchmark: encode %.2f us%n", (System.nanoTime() - t0) / 1e3 / 100_000);
    assertThat(store.load()).hasSize(clients);
  }
}

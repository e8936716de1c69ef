package io.jfscsi.runtime.local;

import static org.assertj.core.api.Assertions.assertThat;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.ClientRecord;
import io.jfscsi.client.RecordChange;
import io.jfscsi.client.RunningClient;
import io.jfscsi.client.TargetVolume;
import io.jfscsi.host.LinuxMounter;
import io.jfscsi.juicefs.VolumeSource;
import java.io.ByteArrayOutputStream;
import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.zip.CRC32;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Records through the runtime's public save/load/remove; needs no root. */
class ClientRecordStoreTest {
  static final Map<String, String> SECRETS =
      Map.of(
          "name",
          "vol",
          "metaurl",
          "redis://:p=ss:w#rd\\x@host:6379/1",
          "secret-key",
          "sk-ünïcødé\nline2",
          "access-key",
          " leading space");

  @TempDir Path base;

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
    VolumeSource source =
        new VolumeSource(
            volumeId,
            SECRETS,
            Map.of(
                "subPath",
                "a/b",
                "juicefs/mount-cpu-limit",
                "2",
                "targets",
                Integer.toString(targets)),
            List.of("cache-size=1024", "ro", "x=y=z"));
    RunningClient running =
        new RunningClient(
            key,
            Path.of("/var/lib/juicefs/volume/" + key.name()),
            "4242",
            Instant.parse("2026-11-26T10:15:30.123456789Z"));
    // The first target is published read-only: a restarted driver must bind it read-only again.
    Set<String> readOnly =
        t.isEmpty()
            ? Set.of()
            : Set.of("/var/lib/kubelet/pods/p0/volumes/kubernetes.io~csi/pv/mount");
    return new ClientRecord(
        key,
        source,
        t,
        readOnly,
        Optional.of(Instant.parse("2026-11-27T00:00:00Z")),
        Optional.of(running));
  }

  @Test
  void roundTripKeepsEverythingIncludingSecrets() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    ClientRecord bare =
        new ClientRecord(
            new ClientKey("pvc-2", "ffff"),
            new VolumeSource("pvc-2", Map.of(), Map.of(), List.of()),
            Set.of(),
            Optional.empty(),
            Optional.empty());
    rt.save(r);
    rt.save(bare);

    assertThat(runtime().load()).containsExactlyInAnyOrder(r, bare);
    assertThat(r.readOnlyTargets()).hasSize(1);
    assertThat(
            runtime().load().stream()
                .filter(x -> x.key().equals(r.key()))
                .findFirst()
                .orElseThrow()
                .source()
                .secrets())
        .isEqualTo(SECRETS);
    Path file = clientsDir().resolve(r.key().name() + ".properties");
    assertThat(Files.readString(file)).contains("source.secret.name=vol");

    rt.remove(r.key());
    rt.remove(r.key()); // idempotent
    assertThat(runtime().load()).containsExactly(bare);
  }

  @Test
  void eachChangeIsWrittenAloneAndARestartedDriverReadsThemBack() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    rt.save(r);
    Path file = clientsDir().resolve(r.key().name() + ".properties");
    Path log = clientsDir().resolve(r.key().name() + TargetLog.SUFFIX);
    byte[] recordBytes = Files.readAllBytes(file);
    long lines = Files.readAllLines(log).size();

    String added = "/var/lib/kubelet/pods/p9/volumes/kubernetes.io~csi/pv/mount";
    String removed = "/var/lib/kubelet/pods/p1/volumes/kubernetes.io~csi/pv/mount";
    var changes =
        List.<RecordChange>of(
            new RecordChange.TargetAdded(r.key(), r.running(), added, true),
            new RecordChange.TargetRemoved(r.key(), r.running(), removed));
    changes.forEach(rt::record);

    assertThat(Files.readAllBytes(file))
        .as("a reference leaves the record file")
        .isEqualTo(recordBytes);
    assertThat(Files.readAllLines(log)).as("one line per reference").hasSize((int) (lines + 2));
    ClientRecord expected = r;
    for (RecordChange c : changes) {
      expected = c.applyTo(expected);
    }
    assertThat(runtime().load()).containsExactly(expected);

    var cancelled = new RecordChange.DeleteAtChanged(r.key(), r.running(), Optional.empty());
    rt.record(cancelled);
    assertThat(Files.readString(file)).doesNotContain("deleteAt");
    assertThat(runtime().load()).containsExactly(cancelled.applyTo(expected));

    // A driver restarted after the start's save changes the record file it finds on disk.
    Instant exitAt = Instant.parse("2026-12-01T00:00:00Z");
    var later = new RecordChange.DeleteAtChanged(r.key(), r.running(), Optional.of(exitAt));
    runtime().record(later);
    assertThat(runtime().load()).containsExactly(later.applyTo(expected));
  }

  @Test
  void inAShareModeEachTargetOfAnotherVolumeIsReadBackWithItsVolume() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("fs-shared", 1);
    // Volume ids and directories with spaces and escapes survive the log's fields.
    String b1 = "/var/lib/kubelet/pods/q1/volumes/kubernetes.io~csi/pv b/mount";
    String b2 = "/var/lib/kubelet/pods/q2/volumes/kubernetes.io~csi/pv\\c/mount";
    TargetVolume b = new TargetVolume("pv b", "dir with space/b");
    TargetVolume c = new TargetVolume("pv\\c", "");
    rt.save(
        new ClientRecord(
            r.key(),
            r.source(),
            Set.of(r.targets().iterator().next(), b1),
            Set.of(b1),
            Map.of(b1, b),
            r.deleteAt(),
            r.running()));
    var added = new RecordChange.TargetAdded(r.key(), r.running(), b2, false, Optional.of(c));
    rt.record(added);
    ClientRecord back = runtime().load().getFirst();
    assertThat(back.sharedTargets()).isEqualTo(Map.of(b1, b, b2, c));
    assertThat(back.readOnlyTargets()).containsExactly(b1);
    assertThat(back.targets()).hasSize(3);
    // Published again as a target of the record's own volume: its volume is forgotten.
    rt.record(new RecordChange.TargetAdded(r.key(), r.running(), b2, false));
    assertThat(runtime().load().getFirst().sharedTargets()).isEqualTo(Map.of(b1, b));
    rt.record(new RecordChange.TargetRemoved(r.key(), r.running(), b1));
    assertThat(runtime().load().getFirst().sharedTargets()).isEmpty();
  }

  @Test
  void filesAreOwnerOnly() throws Exception {
    runtime().save(record("pvc-1", 3));
    try (var files = Files.walk(clientsDir())) {
      List<Path> all = files.toList();
      assertThat(all).hasSize(1 + 1 + 1); // clients/, the record, its targets log
      for (Path f : all) {
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(f)))
            .as(f.toString())
            .isEqualTo(Files.isDirectory(f) ? "rwx------" : "rw-------");
      }
    }
  }

  /**
   * Version i of a growing client: targets p0..p(i-1), as MountActor saves one publish at a time.
   */
  private static ClientRecord version(int i) {
    ClientRecord base = record("pvc-1", 0);
    Set<String> t = new HashSet<>();
    for (int j = 0; j < i; j++) {
      t.add("/var/lib/kubelet/pods/p" + j + "/volumes/kubernetes.io~csi/pv/mount");
    }
    VolumeSource source =
        new VolumeSource(
            base.source().volumeId(),
            base.source().secrets(),
            Map.of("subPath", "a/b", "version", Integer.toString(i / 10)),
            base.source().mountFlags());
    return new ClientRecord(base.key(), source, t, Set.of(), base.deleteAt(), base.running());
  }

  @Test
  void concurrentReadersSeeEachChangeWhole() throws Exception {
    LocalProcessRuntime rt = runtime();
    rt.save(version(1));
    AtomicBoolean done = new AtomicBoolean();
    List<String> problems = new CopyOnWriteArrayList<>();
    AtomicInteger reads = new AtomicInteger();
    Set<String> universe = version(150).targets();
    String always = "/var/lib/kubelet/pods/p0/volumes/kubernetes.io~csi/pv/mount";
    Path log = clientsDir().resolve("pvc-1-abcdef012345.targets.log");
    Thread reader =
        Thread.ofPlatform()
            .start(
                () -> {
                  while (!done.get()) {
                    List<ClientRecord> seen = runtime().load();
                    reads.incrementAndGet();
                    if (seen.size() != 1) {
                      problems.add("saw " + seen.size() + " records");
                      continue;
                    }
                    ClientRecord r = seen.getFirst();
                    int n = r.targets().size();
                    // Nothing invented, nothing present throughout lost, and the record file is
                    // whole.
                    if (!universe.containsAll(r.targets()) || !r.targets().contains(always)) {
                      problems.add("targets that were never saved, or p0 lost: " + r.targets());
                    }
                    // A reader reads a prefix of the log (or the whole of a compacted one): as
                    // every save
                    // changes one target, it sees one of the saved versions, growing or shrinking.
                    if (!r.targets().equals(version(n).targets())) {
                      problems.add("targets are not a saved version: " + r.targets());
                    }
                    if (r.source().context().get("version") == null) {
                      problems.add("record file without its context");
                    }
                  }
                });
    // Grow to 150 targets and shrink back (the log is compacted while shrinking), until the
    // reader has read often enough: saves are fast, a load of 150 targets is slower.
    int cycles = 0;
    while ((cycles < 2 || reads.get() < 100) && cycles < 1000) {
      for (int i = 2; i <= 150; i++) {
        rt.save(version(i));
      }
      for (int i = 149; i >= 1; i--) {
        rt.save(version(i));
      }
      cycles++;
    }
    done.set(true);
    reader.join();
    assertThat(problems).isEmpty();
    assertThat(reads.get()).isGreaterThanOrEqualTo(100);
    assertThat(runtime().load()).containsExactly(version(1));
    try (var files = Files.list(clientsDir())) {
      assertThat(files.map(p -> p.getFileName().toString()).toList())
          .as("no temp file left, nothing moved aside")
          .containsExactlyInAnyOrder(
              "pvc-1-abcdef012345.properties", "pvc-1-abcdef012345.targets.log");
    }
    // Each cycle appends about 300 lines: this few means it was compacted (by rename; comparing
    // inodes would not show it, as ext4 may give the new file the old one's freed inode number).
    assertThat(lines(log)).as("compacted while shrinking").isLessThanOrEqualTo(2 * 1 + 32);
  }

  /** The entries of the clients directory: name -> inode. */
  private Map<String, Object> listing() throws Exception {
    Map<String, Object> out = new HashMap<>();
    try (var files = Files.list(clientsDir())) {
      for (Path f : files.toList()) {
        out.put(
            f.getFileName().toString(),
            Files.readAttributes(f, BasicFileAttributes.class).fileKey());
      }
    }
    return out;
  }

  private static long lines(Path file) throws Exception {
    byte[] bytes = Files.readAllBytes(file);
    long n = 0;
    for (byte b : bytes) {
      n += b == '\n' ? 1 : 0;
    }
    return n;
  }

  private Path logOf(ClientRecord r) {
    return clientsDir().resolve(r.key().name() + ".targets.log");
  }

  private static ClientRecord withTargets(
      ClientRecord r, Set<String> targets, Set<String> readOnly) {
    return new ClientRecord(r.key(), r.source(), targets, readOnly, r.deleteAt(), r.running());
  }

  private static Set<String> plus(Set<String> s, String... more) {
    Set<String> out = new HashSet<>(s);
    out.addAll(List.of(more));
    return out;
  }

  private static Set<String> minus(Set<String> s, String... less) {
    Set<String> out = new HashSet<>(s);
    List.of(less).forEach(out::remove);
    return out;
  }

  static String target(String pod) {
    return "/var/lib/kubelet/pods/" + pod + "/volumes/kubernetes.io~csi/pv/mount";
  }

  @Test
  void aPublishOrUnpublishAppendsOneLineAndCreatesNoFile() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    rt.save(r);
    Path log = logOf(r);
    Map<String, Object> before = listing();
    assertThat(before)
        .containsOnlyKeys(r.key().name() + ".properties", r.key().name() + ".targets.log");
    long linesBefore = lines(log);

    ClientRecord published = withTargets(r, plus(r.targets(), target("new")), r.readOnlyTargets());
    rt.save(published);
    assertThat(listing())
        .as("no file created or replaced: same names, same inodes")
        .isEqualTo(before);
    assertThat(lines(log)).isEqualTo(linesBefore + 1);
    assertThat(rt.load()).containsExactly(published);

    ClientRecord unpublished =
        withTargets(r, minus(published.targets(), target("p1")), r.readOnlyTargets());
    rt.save(unpublished);
    assertThat(listing()).isEqualTo(before);
    assertThat(lines(log)).isEqualTo(linesBefore + 2);
    assertThat(rt.load()).containsExactly(unpublished);

    // Saving the same record again writes nothing.
    rt.save(unpublished);
    assertThat(lines(log)).isEqualTo(linesBefore + 2);

    // The delayed exit changes: the record file is replaced, the targets stay.
    ClientRecord later =
        new ClientRecord(
            r.key(),
            r.source(),
            unpublished.targets(),
            r.readOnlyTargets(),
            Optional.of(Instant.parse("2026-11-28T00:00:00Z")),
            r.running());
    rt.save(later);
    assertThat(listing().get(r.key().name() + ".properties"))
        .isNotEqualTo(before.get(r.key().name() + ".properties"));
    assertThat(lines(log)).isEqualTo(linesBefore + 2);
    assertThat(rt.load()).containsExactly(later);

    // The last targets go, and remove() leaves nothing.
    ClientRecord empty = withTargets(later, Set.of(), Set.of());
    rt.save(empty);
    assertThat(rt.load()).containsExactly(empty);
    rt.remove(r.key());
    try (var files = Files.list(clientsDir())) {
      assertThat(files.toList()).isEmpty();
    }
  }

  @Test
  void aTargetCanBecomeReadOnlyAndAStaleLogIsCorrected() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 2);
    rt.save(r);
    ClientRecord allReadOnly = withTargets(r, r.targets(), r.targets());
    rt.save(allReadOnly);
    assertThat(rt.load()).containsExactly(allReadOnly);
    assertThat(runtime().load()).containsExactly(allReadOnly);
    rt.save(r);
    assertThat(rt.load()).containsExactly(r);

    // A log left by an earlier client with the same key (say a crash inside remove(), after the
    // record file went): the next save reads it and puts it right.
    rt.remove(r.key());
    String stale = target("stale");
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TargetLog.appendLine(out, stale, false);
    TargetLog.appendLine(out, target("p0"), false);
    Files.write(logOf(r), out.toByteArray());
    rt.save(r);
    assertThat(rt.load()).containsExactly(r);
    assertThat(runtime().load()).containsExactly(r);
  }

  @Test
  void aDamagedLineIsSkippedAndInventsNothing() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 3);
    rt.save(r);
    Path log = logOf(r);
    List<String> lines = new ArrayList<>(Files.readAllLines(log));
    assertThat(lines).hasSize(3);
    // A bit flipped in a path: it would name another target if it were believed.
    int victim = indexOf(lines, target("p1"));
    lines.set(victim, lines.get(victim).replace("/p1/", "/p7/"));
    // A removal of p0 whose checksum is wrong.
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TargetLog.appendLine(out, target("p0"), null);
    String removal = out.toString(StandardCharsets.UTF_8).strip();
    lines.add((removal.charAt(0) == '0' ? "1" : "0") + removal.substring(1));
    // Garbage, an empty line, and a line of zeros (as a crash can leave).
    lines.add("not a line at all");
    lines.add("");
    lines.add("\0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    // A well-formed line (right checksum) with an escape that does not exist.
    lines.add(checksummed("+rw /invented\\x"));
    // A line with a right checksum but no operation.
    lines.add(checksummed("/invented"));
    Files.write(log, lines);

    ClientRecord loaded = rt.load().getFirst();
    assertThat(loaded.targets()).containsExactlyInAnyOrder(target("p0"), target("p2"));
    assertThat(loaded.readOnlyTargets()).isEqualTo(r.readOnlyTargets());

    // A restarted driver's first save replaces the damaged log with what it keeps.
    LocalProcessRuntime again = runtime();
    again.save(r);
    assertThat(runtime().load()).containsExactly(r);
    assertThat(lines(log)).isEqualTo(3);
  }

  /** A log line with a right checksum, whatever its body. */
  private static String checksummed(String body) {
    CRC32 crc = new CRC32();
    crc.update(body.getBytes(StandardCharsets.UTF_8));
    return HexFormat.of().toHexDigits((int) crc.getValue()) + " " + body;
  }

  private static int indexOf(List<String> lines, String target) {
    for (int i = 0; i < lines.size(); i++) {
      if (lines.get(i).endsWith(" " + target)) {
        return i;
      }
    }
    throw new AssertionError(target + " not in " + lines);
  }

  @Test
  void aTornLastLineIsIgnoredAndNothingIsAppendedToIt() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 2);
    rt.save(r);
    Path log = logOf(r);
    // A publish whose write the driver did not finish (it crashed): never acknowledged.
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    TargetLog.appendLine(out, target("torn"), false);
    byte[] line = out.toByteArray();
    Files.write(log, Arrays.copyOf(line, line.length - 1), StandardOpenOption.APPEND);
    assertThat(runtime().load()).containsExactly(r);

    // The restarted driver's next publish is not glued to the torn line.
    LocalProcessRuntime again = runtime();
    ClientRecord published = withTargets(r, plus(r.targets(), target("next")), r.readOnlyTargets());
    again.save(published);
    assertThat(runtime().load()).containsExactly(published);
    assertThat(Files.readString(log)).endsWith("\n").doesNotContain("torn");
  }

  @Test
  void theLogIsCompactedAndKeepsTheLiveTargets() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord r = record("pvc-1", 10);
    rt.save(r);
    Path log = logOf(r);
    Set<Object> inodes = new HashSet<>();
    ClientRecord last = r;
    for (int i = 0; i < 400; i++) {
      Set<String> targets = plus(r.targets(), target("extra" + i));
      if (i % 3 == 0) {
        targets.add(target("kept" + i)); // the live set grows slowly
      }
      targets.addAll(last.targets().stream().filter(t -> t.contains("/kept")).toList());
      last = withTargets(r, targets, r.readOnlyTargets());
      rt.save(last);
      inodes.add(Files.readAttributes(log, BasicFileAttributes.class).fileKey());
      assertThat(lines(log)).isLessThanOrEqualTo(2L * last.targets().size() + 32);
    }
    assertThat(inodes).as("compacted now and then, not on every save").hasSizeBetween(2, 400 / 10);
    assertThat(rt.load()).containsExactly(last);
    assertThat(runtime().load()).containsExactly(last);
    assertThat(listing())
        .containsOnlyKeys(r.key().name() + ".properties", r.key().name() + ".targets.log");
  }

  @Test
  void pathsWithNewlinesAndBackslashesRoundTrip() throws Exception {
    LocalProcessRuntime rt = runtime();
    ClientRecord base = record("pvc-1", 1);
    Set<String> odd =
        Set.of(
            "/a\nb",
            "/c\\d",
            "/e\\nf",
            "/g\rh",
            "/trailing\\",
            "/ü space ",
            "/x\n\n",
            "/- 00000000 +rw /y");
    ClientRecord r =
        withTargets(
            base, plus(base.targets(), odd.toArray(String[]::new)), Set.of("/a\nb", "/c\\d"));
    rt.save(r);
    assertThat(runtime().load()).containsExactly(r);
    assertThat(lines(logOf(r))).isEqualTo(1 + odd.size());
    ClientRecord fewer = withTargets(r, minus(r.targets(), "/a\nb", "/e\\nf"), Set.of("/c\\d"));
    rt.save(fewer);
    assertThat(runtime().load()).containsExactly(fewer);
  }

  @Test
  void aRestartedStoreContinuesTheLog() throws Exception {
    ClientRecord r = record("pvc-1", 3);
    runtime().save(r);
    Map<String, Object> before = listing();
    long linesBefore = lines(logOf(r));

    // A new store on the same directory (a driver restart) reads the log at its first save.
    LocalProcessRuntime rt = runtime();
    ClientRecord next =
        withTargets(r, plus(minus(r.targets(), target("p1")), target("p9")), r.readOnlyTargets());
    rt.save(next);
    assertThat(listing()).as("the record file is unchanged, the log appended to").isEqualTo(before);
    assertThat(lines(logOf(r))).isEqualTo(linesBefore + 2);
    assertThat(runtime().load()).containsExactly(next);

    // p0 becomes read-write, p1 comes back, p2 goes.
    ClientRecord then =
        withTargets(r, plus(minus(next.targets(), target("p2")), target("p1")), Set.of());
    rt.save(then);
    assertThat(runtime().load()).containsExactly(then);

    LocalProcessRuntime third = runtime();
    third.save(r);
    assertThat(runtime().load()).containsExactly(r);
    third.remove(r.key());
    assertThat(runtime().load()).isEmpty();
    assertThat(listing()).isEmpty();
  }

  @Test
  void secretsAndContextWithAnyCharactersRoundTrip() throws Exception {
    Map<String, String> secrets = new HashMap<>(SECRETS);
    secrets.put("tricky", " =:#!\\ \t\f\r\n\u0000\u0007\u007f\u00a0é€😀 \\u0041 trailing  ");
    secrets.put("empty", "");
    secrets.put("backslash-end", "x\\");
    secrets.put("#key", "!bang");
    Map<String, String> context =
        Map.of(
            "key with spaces = and : colons",
            "v",
            "ünï",
            "\n leading newline",
            "\tkey",
            "  two leading spaces");
    ClientRecord base = record("pvc-1", 2);
    VolumeSource source =
        new VolumeSource("pvc-1", secrets, context, List.of(" flag ", "a=b", "x\ny"));
    ClientRecord r =
        new ClientRecord(
            base.key(),
            source,
            base.targets(),
            base.readOnlyTargets(),
            base.deleteAt(),
            base.running());

    String text = RecordFile.encode(r);
    assertThat(text.chars().allMatch(c -> c == '\n' || (c >= 0x20 && c < 0x7f)))
        .as("ASCII: " + text)
        .isTrue();
    assertThat(RecordFile.decode(text)).isEqualTo(withTargets(r, Set.of(), Set.of()));
    Properties p = new Properties();
    p.load(new StringReader(text));
    assertThat(p.getProperty("source.secret.tricky")).isEqualTo(secrets.get("tricky"));

    runtime().save(r);
    assertThat(runtime().load()).containsExactly(r);
    assertThat(RecordFile.encode(r)).as("stable bytes").isEqualTo(text);
  }

  @Test
  void concurrentSavesOfDifferentClients() throws Exception {
    LocalProcessRuntime rt = runtime();
    int clients = 8;
    List<Throwable> failures = new CopyOnWriteArrayList<>();
    List<Thread> threads = new ArrayList<>();
    for (int c = 0; c < clients; c++) {
      String volume = "pvc-" + c;
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
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
    List<ClientRecord> expected = new ArrayList<>();
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
    Files.writeString(
        clientsDir().resolve("truncated.properties"), "format=1\nkey.volumeId=pvc-x\n");
    Files.write(
        clientsDir().resolve("garbage.properties"),
        new byte[] {0, (byte) 0xff, '\\', 'u', 'z', 'z'});
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
    List<Thread> threads = new ArrayList<>();
    long start = System.nanoTime();
    for (int c = 0; c < clients; c++) {
      ClientRecord base = record("pvc-" + c, targets);
      threads.add(
          Thread.ofPlatform()
              .start(
                  () -> {
                    store.save(base);
                    for (int i = 0; i < pairs; i++) {
                      Set<String> more = new HashSet<>(base.targets());
                      more.add(
                          "/var/lib/kubelet/pods/extra"
                              + i
                              + "/volumes/kubernetes.io~csi/pv/mount");
                      store.save(
                          new ClientRecord(
                              base.key(),
                              base.source(),
                              more,
                              base.readOnlyTargets(),
                              base.deleteAt(),
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
    System.out.printf(
        "benchmark: %d saves in %.2f s: %.0f saves/s, %.1f us per save per thread%n",
        saves, seconds, saves / seconds, seconds * 1e6 * clients / saves);
    ClientRecord r = record("pvc-x", targets);
    for (int i = 0; i < 20_000; i++) {
      RecordFile.encode(r);
    }
    long t0 = System.nanoTime();
    for (int i = 0; i < 100_000; i++) {
      RecordFile.encode(r);
    }
    System.out.printf("benchmark: encode %.2f us%n", (System.nanoTime() - t0) / 1e3 / 100_000);
    assertThat(store.load()).hasSize(clients);
  }
}

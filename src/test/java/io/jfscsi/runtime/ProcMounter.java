package io.jfscsi.runtime;

import io.jfscsi.host.FsStats;
import io.jfscsi.host.MountEntry;
import io.jfscsi.host.MountException;
import io.jfscsi.host.MountState;
import io.jfscsi.host.Mounter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * A test-only Mounter over /proc/self/mountinfo and umount(8), until the host package's
 * LinuxMounter is merged. Good enough for what the runtime needs: mounts, probe, unmount.
 */
final class ProcMounter implements Mounter {

  @Override
  public void bind(Path source, Path target, boolean readOnly) throws MountException {
    run("mount", "--bind", source.toString(), target.toString());
    if (readOnly) {
      run("mount", "-o", "remount,bind,ro", target.toString());
    }
  }

  @Override
  public void unmount(Path target) throws MountException {
    for (int i = 0; i < 20 && isMountPoint(target); i++) {
      if (!tryRun("umount", target.toString())) {
        run("umount", "-l", target.toString());
      }
    }
    if (isMountPoint(target)) {
      throw new MountException("still mounted: " + target, 16);
    }
  }

  @Override
  public MountState probe(Path path) {
    if (isMountPoint(path)) {
      // In another thread: a hung FUSE server could hang it. Not stat alone: the kernel answers
      // a stat of a dead FUSE mount's root from cached attributes; opendir reaches the server.
      CompletableFuture<Boolean> ok = CompletableFuture.supplyAsync(() -> {
        try {
          Files.readAttributes(path, BasicFileAttributes.class);
          try (var entries = Files.newDirectoryStream(path)) {
            entries.iterator().hasNext();
          }
          return true;
        } catch (IOException e) {
          return false;
        }
      });
      try {
        return ok.get(2, TimeUnit.SECONDS) ? MountState.MOUNTED : MountState.STALE;
      } catch (Exception e) {
        return MountState.STALE;
      }
    }
    return Files.exists(path, LinkOption.NOFOLLOW_LINKS) ? MountState.NOT_MOUNTED : MountState.MISSING;
  }

  @Override
  public FsStats stats(Path path) throws MountException {
    throw new MountException("not supported by the test mounter", 95);
  }

  @Override
  public List<MountEntry> mounts() {
    return parse();
  }

  boolean isMountPoint(Path p) {
    return parse().stream().anyMatch(e -> e.mountPoint().equals(p));
  }

  static List<MountEntry> parse() {
    List<MountEntry> out = new ArrayList<>();
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
        String[] f = line.split(" ");
        int dash = List.of(f).indexOf("-");
        out.add(new MountEntry(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], unescape(f[3]),
            Path.of(unescape(f[4])), f[5], f[dash + 1], unescape(f[dash + 2]), f[dash + 3]));
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return out;
  }

  private static String unescape(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '\\' && i + 3 < s.length()) {
        b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
        i += 3;
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  private static boolean tryRun(String... cmd) {
    try {
      Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
      return p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0;
    } catch (IOException e) {
      return false;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  private static void run(String... cmd) throws MountException {
    if (!tryRun(cmd)) {
      throw new MountException("failed: " + String.join(" ", cmd), 0);
    }
  }
}

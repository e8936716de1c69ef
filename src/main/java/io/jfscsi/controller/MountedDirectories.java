package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.VolumeSettings;
import io.jfscsi.runtime.ClientKey;
import io.jfscsi.runtime.MountRuntime;
import io.jfscsi.runtime.RunningClient;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;

/**
 * Reaches the file system through a short-lived client of the same runtime the node uses (a FUSE
 * passthrough for a local directory, {@code juicefs mount} for a real volume), so the controller
 * needs no second way to talk to JuiceFS.
 */
public final class MountedDirectories implements VolumeDirectories {

  private final MountRuntime runtime;
  private final Duration startTimeout;

  public MountedDirectories(MountRuntime runtime, Duration startTimeout) {
    this.runtime = runtime;
    this.startTimeout = startTimeout;
  }

  @Override
  public void create(VolumeSettings fs, String subPath) {
    withRoot(fs, root -> {
      Path dir = inside(root, subPath);
      try {
        Files.createDirectories(dir);
      } catch (IOException e) {
        throw Failure.internal("cannot create " + subPath + " in " + fs.fsName() + ": "
            + e.getMessage(), e);
      }
      return null;
    });
  }

  @Override
  public void delete(VolumeSettings fs, String subPath) {
    withRoot(fs, root -> {
      Path dir = inside(root, subPath);
      if (Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
        removeTree(dir);
      }
      return null;
    });
  }

  @Override
  public boolean exists(VolumeSettings fs, String subPath) {
    return withRoot(fs, root -> Files.isDirectory(inside(root, subPath), LinkOption.NOFOLLOW_LINKS));
  }

  /** Never the root, never outside it: the sub-path must be a plain relative path below it. */
  static Path inside(Path root, String subPath) {
    Path dir = root.resolve(subPath).normalize();
    if (subPath.isEmpty() || dir.equals(root) || !dir.startsWith(root)) {
      throw Failure.invalid("refusing to touch '" + subPath + "': not a directory below the "
          + "root of the file system");
    }
    return dir;
  }

  private <T> T withRoot(VolumeSettings fs, Function<Path, T> work) {
    // ".." can never start a CSI volume id, so this client's mount path is never a node's.
    ClientKey key = new ClientKey("..provisioner", fs.clientHash());
    RunningClient client;
    try {
      client = runtime.start(key, fs, Optional.empty(), exit -> { })
          .toCompletableFuture().get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      if (e.getCause() instanceof Failure f) {
        throw f;
      }
      throw new Failure(Failure.Code.UNAVAILABLE, "cannot reach file system " + fs.fsName()
          + ": " + e.getCause().getMessage(), e.getCause());
    } catch (java.util.concurrent.TimeoutException e) {
      throw new Failure(Failure.Code.DEADLINE_EXCEEDED, "file system " + fs.fsName()
          + " did not mount within " + startTimeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Failure.Code.ABORTED, "interrupted");
    }
    try {
      return work.apply(client.mountPath());
    } finally {
      runtime.stop(client);
    }
  }

  private static void removeTree(Path dir) {
    try {
      Files.walkFileTree(dir, new SimpleFileVisitor<>() {
        @Override
        public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
          Files.delete(file);
          return FileVisitResult.CONTINUE;
        }

        @Override
        public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
          Files.delete(d);
          return FileVisitResult.CONTINUE;
        }
      });
    } catch (IOException e) {
      throw Failure.internal("cannot remove " + dir + ": " + e.getMessage(), e);
    }
  }
}

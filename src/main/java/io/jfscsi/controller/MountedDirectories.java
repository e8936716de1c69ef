package io.jfscsi.controller;

import io.jfscsi.Failure;
import io.jfscsi.client.ClientKey;
import io.jfscsi.client.MountRuntime;
import io.jfscsi.client.RunningClient;
import io.jfscsi.host.Beneath;
import io.jfscsi.host.MountException;
import io.jfscsi.host.PathBeneath;
import io.jfscsi.host.TreeCopy;
import io.jfscsi.juicefs.VolumeSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
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

  // Every path below is resolved beneath the client's mount without crossing a symbolic link:
  // anyone who can write to the file system can plant one, and following it would create or
  // delete directories on the controller's host.

  @Override
  public void create(VolumeSettings fs, String subPath) {
    withRoot(
        fs,
        root -> {
          try (Beneath.Dir made = Beneath.open(inside(root, subPath), true)) {
            return null;
          } catch (MountException e) {
            throw failure("cannot create " + subPath + " in " + fs.fsName(), e);
          }
        });
  }

  @Override
  public void delete(VolumeSettings fs, String subPath) {
    withRoot(
        fs,
        root -> {
          try {
            Beneath.removeTree(inside(root, subPath));
            return null;
          } catch (MountException e) {
            throw failure("cannot remove " + subPath + " from " + fs.fsName(), e);
          }
        });
  }

  @Override
  public boolean exists(VolumeSettings fs, String subPath) {
    return withRoot(
        fs,
        root -> {
          try {
            return Beneath.isDirectory(inside(root, subPath));
          } catch (MountException e) {
            throw failure("cannot look up " + subPath + " in " + fs.fsName(), e);
          }
        });
  }

  @Override
  public long copy(VolumeSettings fs, String from, String to) {
    return withRoot(
        fs,
        root -> {
          PathBeneath target = inside(root, to);
          PathBeneath source = inside(root, from);
          String name = target.path().getFileName().toString();
          PathBeneath partial =
              PathBeneath.of(root, target.path().resolveSibling("." + name + ".partial"));
          try {
            if (Beneath.isDirectory(target)) {
              return TreeCopy.measure(target).bytes();
            }
            if (!Beneath.isDirectory(source)) {
              throw Failure.notFound("no directory " + from + " in file system " + fs.fsName());
            }
            // A copy cut short by a crash or a failure is never taken for a whole one.
            Beneath.removeTree(partial);
            try (Beneath.Dir parent = Beneath.open(parentOf(target), true)) {
              try {
                runtime.copyDirectory(fs, source, partial);
              } catch (RuntimeException e) {
                removeQuietly(partial);
                throw e;
              }
              Files.move(
                  parent.procPath().resolve(partial.path().getFileName()),
                  parent.procPath().resolve(name),
                  StandardCopyOption.ATOMIC_MOVE);
            }
            return TreeCopy.measure(target).bytes();
          } catch (MountException e) {
            throw failure("cannot copy " + from + " to " + to + " in " + fs.fsName(), e);
          } catch (IOException e) {
            throw Failure.internal(
                "cannot copy " + from + " to " + to + " in " + fs.fsName() + ": " + e, e);
          }
        });
  }

  private static PathBeneath parentOf(PathBeneath at) {
    int slash = at.relative().lastIndexOf('/');
    return new PathBeneath(at.root(), slash < 0 ? "" : at.relative().substring(0, slash));
  }

  private static void removeQuietly(PathBeneath partial) {
    try {
      Beneath.removeTree(partial);
    } catch (MountException e) {
      // The next copy to the same name removes it first.
    }
  }

  private static Failure failure(String what, MountException e) {
    return e.refused()
        ? Failure.invalid(what + ": " + e.getMessage())
        : Failure.internal(what + ": " + e.getMessage(), e);
  }

  /** Never the root, never outside it: the sub-path must be a plain relative path below it. */
  static PathBeneath inside(Path root, String subPath) {
    Path dir = root.resolve(subPath).normalize();
    if (subPath.isEmpty() || dir.equals(root) || !dir.startsWith(root)) {
      throw Failure.invalid(
          "refusing to touch '"
              + subPath
              + "': not a directory below the "
              + "root of the file system");
    }
    return PathBeneath.of(root, dir);
  }

  private <T> T withRoot(VolumeSettings fs, Function<Path, T> work) {
    // ".." can never start a CSI volume id, so this client's mount path is never a node's.
    ClientKey key = new ClientKey("..provisioner", fs.clientHash());
    RunningClient client;
    try {
      client =
          runtime
              .start(key, fs, Optional.empty(), exit -> {})
              .toCompletableFuture()
              .get(startTimeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof Failure f) {
        throw f;
      }
      throw new Failure(
          Failure.Code.UNAVAILABLE,
          "cannot reach file system " + fs.fsName() + ": " + e.getCause().getMessage(),
          e.getCause());
    } catch (TimeoutException e) {
      throw new Failure(
          Failure.Code.DEADLINE_EXCEEDED,
          "file system " + fs.fsName() + " did not mount within " + startTimeout);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new Failure(Failure.Code.ABORTED, "interrupted");
    }
    try {
      return work.apply(client.mountPath());
    } finally {
      awaitStop(client);
    }
  }

  /** The provisioner works one request at a time on a thread of its own: it waits for the stop. */
  private void awaitStop(RunningClient client) {
    try {
      runtime.stop(client).toCompletableFuture().join();
    } catch (CompletionException e) {
      if (Failure.unwrap(e) instanceof RuntimeException cause) {
        throw cause;
      }
      throw e;
    }
  }
}

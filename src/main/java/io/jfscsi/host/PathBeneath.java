package io.jfscsi.host;

import java.nio.file.Path;

/**
 * A path named relative to a root it must not leave: the driver resolves {@code relative} one name
 * at a time beneath {@code root}, never through a symbolic link (see {@link Beneath}). {@code root}
 * itself is the driver's own (the kubelet root, a client's mount point) and is taken as it is.
 *
 * @param relative names separated by '/', without "." or ".."; "" for the root itself
 */
public record PathBeneath(Path root, String relative) {

  /** {@code path}, which lies lexically under {@code root}, named relative to it. */
  public static PathBeneath of(Path root, Path path) {
    Path r = root.toAbsolutePath().normalize();
    Path p = path.toAbsolutePath().normalize();
    if (!p.startsWith(r)) {
      throw new IllegalArgumentException(path + " is not under " + root);
    }
    return new PathBeneath(r, r.relativize(p).toString());
  }

  /** The whole path, for messages. */
  public Path path() {
    return relative.isEmpty() ? root : root.resolve(relative);
  }

  @Override
  public String toString() {
    return path().toString();
  }
}

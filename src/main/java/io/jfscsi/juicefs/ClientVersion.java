package io.jfscsi.juicefs;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JuiceFS Community Edition version of a client, as the Go driver finds it: from a Mount Pod
 * image's tag ({@code juicedata/mount:ce-v1.2.1}; an image with no tag is the newest) or from what
 * {@code juicefs version} prints ({@code juicefs version 1.2.1+2024-08-30.cfb3d5b}). A tag that
 * names no version ({@code ce-nightly}, a local build) gives none: nothing is assumed of it.
 */
public record ClientVersion(int major, int minor, int patch) implements Comparable<ClientVersion> {

  /** The first CE release whose client hands its FUSE connection to the driver. */
  public static final ClientVersion FUSE_PASSING = new ClientVersion(1, 2, 1);

  /** What an image without a tag runs: the newest release. */
  static final ClientVersion LATEST = new ClientVersion(Integer.MAX_VALUE, 0, 0);

  private static final Pattern TAG = Pattern.compile("ce-v(\\d+)\\.(\\d+)\\.(\\d+)");
  private static final Pattern OUTPUT = Pattern.compile("version (\\d+)\\.(\\d+)\\.(\\d+)(\\S*)");

  /** The version an image runs, if its tag says one. */
  public static Optional<ClientVersion> ofImage(String image) {
    String name = image.contains("@") ? image.substring(0, image.indexOf('@')) : image;
    String last = name.substring(name.lastIndexOf('/') + 1);
    int colon = last.indexOf(':');
    if (colon < 0) {
      return image.contains("@") ? Optional.empty() : Optional.of(LATEST);
    }
    Matcher m = TAG.matcher(last.substring(colon + 1));
    return m.lookingAt() ? Optional.of(of(m)) : Optional.empty();
  }

  /** The version {@code juicefs version} printed; a development build ({@code -dev}) is none. */
  public static Optional<ClientVersion> ofOutput(String output) {
    Matcher m = OUTPUT.matcher(output);
    if (!m.find() || m.group(4).startsWith("-dev")) {
      return Optional.empty();
    }
    return Optional.of(of(m));
  }

  /** Whether this client can hand its FUSE connection over (smooth upgrade). */
  public boolean passesFuseFd() {
    return compareTo(FUSE_PASSING) >= 0;
  }

  @Override
  public int compareTo(ClientVersion o) {
    if (major != o.major) {
      return Integer.compare(major, o.major);
    }
    return minor != o.minor ? Integer.compare(minor, o.minor) : Integer.compare(patch, o.patch);
  }

  @Override
  public String toString() {
    return this.equals(LATEST) ? "latest" : major + "." + minor + "." + patch;
  }

  private static ClientVersion of(Matcher m) {
    return new ClientVersion(
        Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)), Integer.parseInt(m.group(3)));
  }
}

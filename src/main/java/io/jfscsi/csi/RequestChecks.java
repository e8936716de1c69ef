package io.jfscsi.csi;

import csi.v1.VolumeCapability;
import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.nio.charset.StandardCharsets;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * Validation shared by the CSI services: the shape of a request, never the disk. Everything here is
 * pure and throws {@link Failure} with INVALID_ARGUMENT (or the code the specification names) and a
 * message that says what is wrong.
 */
final class RequestChecks {
  private RequestChecks() {}

  /**
   * In UTF-8 bytes. CSI asks plugins to accept at least 128; Kubernetes object names stop at 253,
   * and a provisioned volume's directory is named after it (at most 255 bytes).
   */
  static final int MAX_ID_LENGTH = 253;

  static final Set<VolumeCapability.AccessMode.Mode> SUPPORTED_MODES =
      EnumSet.of(
          VolumeCapability.AccessMode.Mode.SINGLE_NODE_WRITER,
          VolumeCapability.AccessMode.Mode.SINGLE_NODE_READER_ONLY,
          VolumeCapability.AccessMode.Mode.SINGLE_NODE_SINGLE_WRITER,
          VolumeCapability.AccessMode.Mode.SINGLE_NODE_MULTI_WRITER,
          VolumeCapability.AccessMode.Mode.MULTI_NODE_MULTI_WRITER,
          VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY);

  /**
   * A volume id or name becomes a directory name and part of a client's name, so it must be one
   * plain path element.
   */
  static String volumeId(String field, String value) {
    if (value.isEmpty()) {
      throw Failure.invalid(field + " is required");
    }
    // In UTF-8 bytes, as CSI counts: the name of a volume's directory must fit in NAME_MAX.
    int bytes = value.getBytes(StandardCharsets.UTF_8).length;
    if (bytes > MAX_ID_LENGTH) {
      throw Failure.invalid(
          field
              + " is "
              + bytes
              + " bytes long (UTF-8); at most "
              + MAX_ID_LENGTH
              + " are accepted");
    }
    if (value.indexOf('\0') >= 0) {
      throw Failure.invalid(field + " contains a NUL character");
    }
    if (value.contains("/")) {
      throw Failure.invalid(
          field + " " + Quoted.of(value) + " contains '/'; it must be a single" + " name");
    }
    if (value.equals(".") || value.equals("..") || value.contains("..")) {
      throw Failure.invalid(field + " " + Quoted.of(value) + " contains '..'");
    }
    for (char c : value.toCharArray()) {
      if (Character.isISOControl(c)) {
        throw Failure.invalid(field + " " + Quoted.of(value) + " contains a control character");
      }
    }
    return value;
  }

  /**
   * A target path must be absolute, normalized and under the kubelet root: the shape of the request
   * only. The disk (a parent that escapes the root through a symbolic link, a target that is a
   * symbolic link or a file) is looked at by the mount side, off the gRPC transport thread (see
   * mount.TargetChecks). The target itself may not exist yet.
   */
  static Path targetPath(String field, String value, Path kubeletRoot) {
    if (value.isEmpty()) {
      throw Failure.invalid(field + " is required");
    }
    if (value.indexOf('\0') >= 0) {
      throw Failure.invalid(field + " contains a NUL character");
    }
    if (value.getBytes(StandardCharsets.UTF_8).length > 4096) {
      throw Failure.invalid(field + " is longer than PATH_MAX (4096 bytes)");
    }
    for (String element : value.split("/")) {
      if (element.getBytes(StandardCharsets.UTF_8).length > 255) {
        throw Failure.invalid(
            field
                + " has the element "
                + Quoted.of(element)
                + ", longer than a file name can be (255 bytes)");
      }
    }
    String quoted = Quoted.of(value);
    Path path = path(field, value);
    if (!path.isAbsolute()) {
      throw Failure.invalid(field + " " + quoted + " is not an absolute path");
    }
    if (!path.normalize().toString().equals(value) || value.endsWith("/")) {
      throw Failure.invalid(
          field
              + " "
              + quoted
              + " is not normalized (expected "
              + Quoted.of(path.normalize().toString())
              + ")");
    }
    if (!path.startsWith(kubeletRoot) || path.equals(kubeletRoot)) {
      throw Failure.invalid(field + " " + quoted + " is outside the kubelet root " + kubeletRoot);
    }
    return path;
  }

  /**
   * {@code value} as a path of this host. A JVM that runs without a UTF-8 locale cannot name a file
   * with non-ASCII characters; that is the request's path, not a fault of the driver.
   */
  static Path path(String field, String value) {
    try {
      return Path.of(value);
    } catch (InvalidPathException e) {
      throw Failure.invalid(
          field
              + " "
              + Quoted.of(value)
              + " cannot be a path on this host ("
              + e.getReason()
              + "; the driver needs a UTF-8 locale, e.g. LANG=C.UTF-8, for "
              + "non-ASCII paths)");
    }
  }

  /** The driver serves file systems only: mount access, and the access modes it can honour. */
  static void capabilities(List<VolumeCapability> capabilities) {
    if (capabilities.isEmpty()) {
      throw Failure.invalid("volume_capabilities are required");
    }
    capabilities.forEach(RequestChecks::capability);
  }

  static void capability(VolumeCapability capability) {
    String problem = unsupported(capability);
    if (problem != null) {
      throw Failure.invalid(problem);
    }
  }

  /** Why a capability is not supported, or null when it is. */
  static String unsupported(VolumeCapability c) {
    if (c.hasBlock()) {
      return "block access is not supported: JuiceFS volumes are file systems (use mount access)";
    }
    if (!c.hasMount()) {
      return "volume_capability must set mount access";
    }
    String fsType = c.getMount().getFsType();
    if (!fsType.isEmpty() && !fsType.equals("juicefs")) {
      return "fs_type " + Quoted.of(fsType) + " is not supported; leave it empty or use 'juicefs'";
    }
    if (!c.hasAccessMode()) {
      return "volume_capability.access_mode is required";
    }
    VolumeCapability.AccessMode.Mode mode = c.getAccessMode().getMode();
    if (!SUPPORTED_MODES.contains(mode)) {
      return "access mode " + mode + " is not supported";
    }
    return null;
  }

  static boolean readOnlyMode(VolumeCapability c) {
    var mode = c.getAccessMode().getMode();
    return mode == VolumeCapability.AccessMode.Mode.MULTI_NODE_READER_ONLY
        || mode == VolumeCapability.AccessMode.Mode.SINGLE_NODE_READER_ONLY;
  }
}

package io.jfscsi.runtime.kube;

import io.jfscsi.client.ClientKey;
import io.jfscsi.client.SafeNames;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * Names, labels and annotation keys of Mount Pods, in the Go driver's formats so that both drivers
 * read each other's pods: pod {@code juicefs-<node>-<volumeId>-<rand6>}, labels {@code
 * app.kubernetes.io/name=juicefs-mount}, {@code volume-id}, {@code juicefs-hash}, one reference
 * annotation per target keyed {@code juicefs-<sha256hex(target)>} cut to 63 characters. Keys of our
 * own start with {@link #OWN}. Pure functions only.
 */
public final class MountPodNames {
  private MountPodNames() {}

  public static final String APP_LABEL = "app.kubernetes.io/name";
  public static final String APP = "juicefs-mount";
  public static final String VOLUME_ID_LABEL = "volume-id";
  public static final String HASH_LABEL = "juicefs-hash";
  public static final String FINALIZER = "juicefs.com/finalizer";

  public static final String DELETE_DELAY = "juicefs-delete-delay";
  public static final String DELETE_AT = "juicefs-delete-at";
  public static final String CLEAN_CACHE = "juicefs-clean-cache";
  public static final String UNIQUE_ID = "juicefs-uniqueid";
  public static final String UUID = "juicefs-uuid";

  /** Go's reference annotation prefix. */
  public static final String REFERENCE_PREFIX = "juicefs-";

  /** Our own keys (no Go driver reads them). */
  public static final String OWN = "jfs-csi.juicefs.com/";

  /** The non-secret parts of the volume (context, mount flags) and the Secret name, as JSON. */
  public static final String SOURCE = OWN + "source";

  /** The full client hash (the label is cut to 63 characters). */
  public static final String CLIENT_HASH = OWN + "client-hash";

  /** The host path the client mounts at (the same inside the pod). */
  public static final String MOUNT_PATH = OWN + "mount-path";

  /** Targets published read-only, one per line. */
  public static final String READ_ONLY = OWN + "read-only";

  /**
   * In a share mode, the targets of other volumes than the one in {@link #SOURCE}, as JSON: target
   * to {@code {"volumeId": ..., "subPath": ...}}.
   */
  public static final String TARGET_VOLUMES = OWN + "target-volumes";

  /** Label of the Secret a pod of ours reads, so that the last pod using it deletes it. */
  public static final String SECRET_LABEL = OWN + "secret";

  public static final String CONTAINER = "jfs-mount";

  private static final Pattern LABEL_VALUE =
      Pattern.compile("([A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?)?");
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final String ALPHABET = "bcdfghjklmnpqrstvwxz2456789";

  /** The reference annotation key of {@code target}, as the Go driver's GetReferenceKey. */
  public static String referenceKey(String target) {
    String key = REFERENCE_PREFIX + sha256(target);
    return key.substring(0, Math.min(63, key.length()));
  }

  /** Whether an annotation key is a target reference (Go's or ours: they are the same). */
  public static boolean isReferenceKey(String key) {
    return key.length() == 63
        && key.startsWith(REFERENCE_PREFIX)
        && key.substring(REFERENCE_PREFIX.length())
            .chars()
            .allMatch(c -> (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'));
  }

  /** The {@code juicefs-hash} label value: the settings hash cut to 63 characters. */
  public static String hashLabel(String settingsHash) {
    return labelValue(settingsHash.substring(0, Math.min(63, settingsHash.length())));
  }

  /**
   * The {@code volume-id} label: the volume id when it is a valid label value (the Go driver's
   * choice), otherwise a sanitized prefix and a digest so that it stays distinct.
   */
  public static String volumeLabel(String volumeId) {
    return labelValue(volumeId);
  }

  static String labelValue(String value) {
    if (value.length() <= 63 && LABEL_VALUE.matcher(value).matches()) {
      return value;
    }
    String digest = sha256(value).substring(0, 10);
    String cleaned = value.replaceAll("[^A-Za-z0-9_.-]", "-");
    cleaned = cleaned.substring(0, Math.min(cleaned.length(), 63 - 11));
    cleaned = cleaned.replaceAll("^[^A-Za-z0-9]+", "");
    return (cleaned.isEmpty() ? "v" : cleaned) + "-" + digest;
  }

  /** Six random lower-case characters, as the Go driver's pod name suffix. */
  public static String randomSuffix() {
    StringBuilder s = new StringBuilder(6);
    for (int i = 0; i < 6; i++) {
      s.append(ALPHABET.charAt(RANDOM.nextInt(ALPHABET.length())));
    }
    return s.toString();
  }

  /**
   * {@code juicefs-<node>-<volumeId>-<suffix>} as a DNS subdomain (lower case, '.' and '-' only),
   * at most 253 characters; parts that do not fit are cut and made distinct by a digest.
   */
  public static String podName(String node, String volumeId, String suffix) {
    String middle = dns(node) + "-" + dns(volumeId);
    int room = 253 - "juicefs-".length() - 1 - suffix.length();
    if (middle.length() > room) {
      middle = cut(middle, room - 11) + "-" + sha256(node + "/" + volumeId).substring(0, 10);
    }
    return "juicefs-" + middle + "-" + suffix;
  }

  /** The Secret of one client on one node (secret values live only there). */
  public static String secretName(String node, ClientKey key) {
    String middle = dns(node) + "-" + dns(key.volumeId());
    int room = 253 - "jfs-csi-".length() - 13 - "-secret".length();
    if (middle.length() > room) {
      middle = cut(middle, room - 11) + "-" + sha256(node + "/" + key.volumeId()).substring(0, 10);
    }
    return "jfs-csi-"
        + middle
        + "-"
        + key.settingsHash().substring(0, Math.min(12, key.settingsHash().length()))
        + "-secret";
  }

  /** Where a pod's client mounts on the host: one directory per pod, as in the Go driver. */
  public static Path mountPath(Path mountRoot, ClientKey key, String suffix) {
    String vol = key.volumeId().replaceAll("[^A-Za-z0-9_.-]", "_");
    if (vol.length() > 100 || vol.startsWith(".") || !vol.equals(key.volumeId())) {
      vol =
          vol.substring(0, Math.min(vol.length(), 100)).replaceAll("^\\.+", "_")
              + "-"
              + sha256(key.volumeId()).substring(0, 10);
    }
    return mountRoot.resolve(vol + "-" + suffix);
  }

  /** The first {@code length} characters of a {@link #dns} name, ending in a letter or digit. */
  private static String cut(String dnsName, int length) {
    return dnsName.substring(0, length).replaceAll("[^a-z0-9]+$", "");
  }

  /** Lower-case DNS label characters, never empty, no leading or trailing '-' or '.'. */
  static String dns(String s) {
    // A run of '.' and '-' that holds a '.' becomes one '.': "a.-b" or "a..b" would make a DNS
    // label that starts or ends with '-', or an empty one.
    String d =
        s.toLowerCase(Locale.ROOT)
            .replaceAll("[^a-z0-9.-]", "-")
            .replaceAll("[.-]*\\.[.-]*", ".")
            .replaceAll("^[^a-z0-9]+", "")
            .replaceAll("[^a-z0-9]+$", "");
    return d.isEmpty() ? "x" : d;
  }

  static String sha256(String s) {
    return SafeNames.sha256(s);
  }
}

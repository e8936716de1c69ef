package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import io.jfscsi.Quoted;
import java.math.BigDecimal;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import tools.jackson.core.JacksonException;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * The volume context keys of the Go driver that shape a Mount Pod beyond its command: extra labels
 * and annotations, its service account, emptyDir and CSI inline cache volumes, and host paths, in
 * the Go driver's formats. Context values are not secret, so messages may quote them.
 *
 * <p>Labels and annotations the driver itself sets or reads (the Mount Pod's identity, its hash,
 * its references and records) are refused: a volume that could set them could make one driver's pod
 * look like another client's, or forge references.
 *
 * @param labels extra labels of the Mount Pod ({@code juicefs/mount-labels})
 * @param annotations extra annotations ({@code juicefs/mount-annotations})
 * @param serviceAccount {@code juicefs/mount-service-account}
 * @param cacheEmptyDir {@code juicefs/mount-cache-emptydir}: a cache on an emptyDir
 * @param cacheInlineVolumes {@code juicefs/mount-cache-inline-volume}: caches on CSI inline volumes
 * @param hostPaths {@code juicefs/host-path}: host directories or files mounted at the same path
 */
public record MountPodKeys(
    Map<String, String> labels,
    Map<String, String> annotations,
    Optional<String> serviceAccount,
    Optional<EmptyDir> cacheEmptyDir,
    List<InlineVolume> cacheInlineVolumes,
    List<Path> hostPaths) {

  public static final String LABELS = "juicefs/mount-labels";
  public static final String ANNOTATIONS = "juicefs/mount-annotations";
  public static final String SERVICE_ACCOUNT = "juicefs/mount-service-account";
  public static final String CACHE_EMPTYDIR = "juicefs/mount-cache-emptydir";
  public static final String CACHE_INLINE_VOLUME = "juicefs/mount-cache-inline-volume";
  public static final String HOST_PATH = "juicefs/host-path";

  static final Set<String> KEYS =
      Set.of(LABELS, ANNOTATIONS, SERVICE_ACCOUNT, CACHE_EMPTYDIR, CACHE_INLINE_VOLUME, HOST_PATH);

  /** Where the Go driver mounts these caches in the pod; its cache-dir names these paths. */
  public static final String EMPTYDIR_PATH = "/var/jfsCache-emptyDir";

  public static final String INLINE_PATH_PREFIX = "/var/jfsCache-inlineVolume-";

  /** Labels both drivers set and select Mount Pods by. */
  static final Set<String> RESERVED_LABELS =
      Set.of("app.kubernetes.io/name", "volume-id", "juicefs-hash", "juicefs-upgrade-uuid");

  /**
   * Annotation prefixes both drivers read: {@code juicefs-} holds the references (one per target),
   * the unique id, the delay and clean-cache records; {@code jfs-csi.juicefs.com/} holds ours.
   */
  static final List<String> RESERVED_ANNOTATION_PREFIXES =
      List.of("juicefs-", "jfs-csi.juicefs.com/");

  /** An emptyDir cache: {@code medium} "" (the node's disk) or "Memory"; an optional size. */
  public record EmptyDir(String medium, Optional<String> sizeLimit) {}

  /**
   * One CSI inline volume (the fields of Kubernetes' CSIVolumeSource).
   *
   * @param secretName {@code nodePublishSecretRef.name}, if any
   */
  public record InlineVolume(
      String driver,
      Optional<Boolean> readOnly,
      Optional<String> fsType,
      Map<String, String> volumeAttributes,
      Optional<String> secretName) {}

  public static final MountPodKeys NONE =
      new MountPodKeys(
          Map.of(), Map.of(), Optional.empty(), Optional.empty(), List.of(), List.of());

  private static final Pattern NAME_PART =
      Pattern.compile("[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?");
  private static final Pattern HUGE_PAGES = Pattern.compile("HugePages(-.+)?");
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Set<String> INLINE_FIELDS =
      Set.of("driver", "readOnly", "fsType", "volumeAttributes", "nodePublishSecretRef");
  private static final BigDecimal MAX_SIZE = BigDecimal.valueOf(1L << 60);

  /** Whether the context sets any of these keys. */
  public boolean isEmpty() {
    return equals(NONE);
  }

  public static MountPodKeys parse(Map<String, String> context) {
    return new MountPodKeys(
        labels(context.get(LABELS)),
        annotations(context.get(ANNOTATIONS)),
        serviceAccount(context.get(SERVICE_ACCOUNT)),
        emptyDir(context.get(CACHE_EMPTYDIR)),
        inlineVolumes(context.get(CACHE_INLINE_VOLUME)),
        hostPaths(context.get(HOST_PATH)));
  }

  private static Map<String, String> labels(String text) {
    Map<String, String> labels = map(LABELS, text);
    for (Map.Entry<String, String> e : labels.entrySet()) {
      String key = e.getKey();
      checkQualifiedName(LABELS, "label", key);
      if (RESERVED_LABELS.contains(key)) {
        throw Failure.invalid(
            "volume context key '"
                + LABELS
                + "' sets the label "
                + Quoted.of(key)
                + ", which the driver sets itself to find its Mount Pods; use another label name");
      }
      String value = e.getValue();
      if (!value.isEmpty() && (value.length() > 63 || !NAME_PART.matcher(value).matches())) {
        throw Failure.invalid(
            "volume context key '"
                + LABELS
                + "': the value of label "
                + Quoted.of(key)
                + " is not a Kubernetes label value (at most 63 letters, digits, '-', '_' or '.',"
                + " starting and ending with a letter or digit)");
      }
    }
    return labels;
  }

  private static Map<String, String> annotations(String text) {
    Map<String, String> annotations = map(ANNOTATIONS, text);
    long size = 0;
    for (Map.Entry<String, String> e : annotations.entrySet()) {
      String key = e.getKey();
      checkQualifiedName(ANNOTATIONS, "annotation", key);
      for (String prefix : RESERVED_ANNOTATION_PREFIXES) {
        if (key.startsWith(prefix)) {
          throw Failure.invalid(
              "volume context key '"
                  + ANNOTATIONS
                  + "' sets the annotation "
                  + Quoted.of(key)
                  + ": names starting with '"
                  + prefix
                  + "' hold the Mount Pod's references and records, which the drivers read; use"
                  + " another annotation name");
        }
      }
      size += key.length() + e.getValue().length();
    }
    // Kubernetes' bound on all annotations of an object; the driver's own need some room too.
    if (size > 128 * 1024) {
      throw Failure.invalid(
          "volume context key '" + ANNOTATIONS + "' is too large: at most 128 KiB of annotations");
    }
    return annotations;
  }

  private static Map<String, String> map(String key, String text) {
    if (text == null || text.isBlank()) {
      return Map.of();
    }
    Map<String, String> parsed = FlatMapText.parse("volume context key", key, text);
    return Collections.unmodifiableMap(new TreeMap<>(parsed));
  }

  /** A Kubernetes qualified name: an optional DNS subdomain prefix and '/', then a name part. */
  private static void checkQualifiedName(String key, String what, String name) {
    int slash = name.indexOf('/');
    String prefix = slash < 0 ? null : name.substring(0, slash);
    String part = slash < 0 ? name : name.substring(slash + 1);
    boolean good =
        part.length() <= 63
            && NAME_PART.matcher(part).matches()
            && (prefix == null
                || (prefix.length() <= 253
                    && SecretSettings.DNS_SUBDOMAIN.matcher(prefix).matches()));
    if (!good) {
      throw Failure.invalid(
          "volume context key '"
              + key
              + "' has "
              + Quoted.of(name)
              + ", which is not a Kubernetes "
              + what
              + " name (an optional DNS prefix and '/', then at most 63 letters, digits, '-', '_'"
              + " or '.', starting and ending with a letter or digit)");
    }
  }

  private static Optional<String> serviceAccount(String raw) {
    if (raw == null || raw.isBlank()) {
      return Optional.empty();
    }
    String name = raw.strip();
    if (name.length() > 253 || !SecretSettings.DNS_SUBDOMAIN.matcher(name).matches()) {
      throw Failure.invalid(
          "volume context key '"
              + SERVICE_ACCOUNT
              + "' value "
              + Quoted.of(name)
              + " is not a service account name (a lower-case DNS name) of the Mount Pods'"
              + " namespace");
    }
    return Optional.of(name);
  }

  /**
   * {@code Medium:Size}, {@code Medium} or empty, as the Go driver reads it: the key present at all
   * gives the pod an emptyDir cache, even with an empty value.
   */
  private static Optional<EmptyDir> emptyDir(String raw) {
    if (raw == null) {
      return Optional.empty();
    }
    String[] parts = raw.strip().split(":", -1);
    if (parts.length > 2) {
      throw badEmptyDir(raw, "it has more than one ':'");
    }
    String medium = parts[0].strip();
    if (!medium.isEmpty() && !medium.equals("Memory") && !HUGE_PAGES.matcher(medium).matches()) {
      throw badEmptyDir(
          raw, "its medium must be empty (the node's disk), Memory or HugePages[-<size>]");
    }
    Optional<String> size = Optional.empty();
    if (parts.length == 2 && !parts[1].isBlank()) {
      String text = parts[1].strip();
      Optional<BigDecimal> value = Quantity.value(text);
      if (value.isEmpty() || value.get().signum() <= 0 || value.get().compareTo(MAX_SIZE) > 0) {
        throw badEmptyDir(
            raw, "its size must be a positive Kubernetes quantity up to 1Ei, e.g. 10Gi");
      }
      size = Optional.of(text);
    }
    return Optional.of(new EmptyDir(medium, size));
  }

  private static Failure badEmptyDir(String raw, String problem) {
    return Failure.invalid(
        "volume context key '"
            + CACHE_EMPTYDIR
            + "' value "
            + Quoted.of(raw)
            + " is not '<medium>:<size>': "
            + problem
            + "; write e.g. 'Memory:1Gi', ':10Gi' or 'Memory'");
  }

  private static List<InlineVolume> inlineVolumes(String raw) {
    if (raw == null || raw.isBlank()) {
      return List.of();
    }
    JsonNode root;
    try {
      root = JSON.readTree(raw);
    } catch (JacksonException e) {
      throw badInline("it is not valid JSON");
    }
    if (root == null || !root.isArray()) {
      throw badInline("it is not a JSON list");
    }
    List<InlineVolume> volumes = new ArrayList<>();
    int n = 0;
    for (JsonNode item : root) {
      n++;
      String at = "entry " + n;
      if (!item.isObject()) {
        throw badInline(at + " is not an object");
      }
      for (String field : item.propertyNames()) {
        if (!INLINE_FIELDS.contains(field)) {
          throw badInline(
              at
                  + " has the field "
                  + Quoted.of(field)
                  + "; a CSI inline volume has only "
                  + String.join(", ", sortedFields()));
        }
      }
      String driver =
          text(item, "driver", at).orElseThrow(() -> badInline(at + " has no 'driver'"));
      if (driver.length() > 63 || !SecretSettings.DNS_SUBDOMAIN.matcher(driver).matches()) {
        throw badInline(
            at + " has the driver " + Quoted.of(driver) + ", which is not a CSI driver name");
      }
      Optional<Boolean> readOnly = Optional.empty();
      JsonNode ro = item.get("readOnly");
      if (ro != null && !ro.isNull()) {
        if (!ro.isBoolean()) {
          throw badInline(at + " has a 'readOnly' that is not true or false");
        }
        readOnly = Optional.of(ro.booleanValue());
      }
      Optional<String> fsType = text(item, "fsType", at);
      Map<String, String> attributes = new LinkedHashMap<>();
      JsonNode attrs = item.get("volumeAttributes");
      if (attrs != null && !attrs.isNull()) {
        if (!attrs.isObject()) {
          throw badInline(at + " has 'volumeAttributes' that is not an object");
        }
        for (var e : attrs.properties()) {
          if (!e.getValue().isString()) {
            throw badInline(
                at
                    + " has the volume attribute "
                    + Quoted.of(e.getKey())
                    + " whose value is not a string");
          }
          attributes.put(e.getKey(), e.getValue().stringValue());
        }
      }
      Optional<String> secret = Optional.empty();
      JsonNode ref = item.get("nodePublishSecretRef");
      if (ref != null && !ref.isNull()) {
        secret =
            ref.isObject() ? text(ref, "name", at + "'s nodePublishSecretRef") : Optional.empty();
        if (secret.isEmpty()
            || secret.get().length() > 253
            || !SecretSettings.DNS_SUBDOMAIN.matcher(secret.get()).matches()) {
          throw badInline(
              at + " has a 'nodePublishSecretRef' without a Secret name ({\"name\": \"...\"})");
        }
      }
      volumes.add(
          new InlineVolume(
              driver,
              readOnly,
              fsType,
              Collections.unmodifiableMap(new TreeMap<>(attributes)),
              secret));
    }
    return List.copyOf(volumes);
  }

  private static List<String> sortedFields() {
    return INLINE_FIELDS.stream().sorted().toList();
  }

  private static Optional<String> text(JsonNode object, String field, String at) {
    JsonNode node = object.get(field);
    if (node == null || node.isNull()) {
      return Optional.empty();
    }
    if (!node.isString()) {
      throw badInline(at + " has a '" + field + "' that is not a string");
    }
    String value = node.stringValue().strip();
    return value.isEmpty() ? Optional.empty() : Optional.of(value);
  }

  private static Failure badInline(String problem) {
    return Failure.invalid(
        "volume context key '"
            + CACHE_INLINE_VOLUME
            + "' is not a JSON list of CSI inline volumes: "
            + problem
            + "; write e.g. [{\"driver\": \"local.csi.example.com\", \"volumeAttributes\":"
            + " {\"size\": \"10Gi\"}}]");
  }

  /** A comma list of absolute host paths, each mounted into the Mount Pod at the same path. */
  private static List<Path> hostPaths(String raw) {
    if (raw == null || raw.isBlank()) {
      return List.of();
    }
    List<Path> paths = new ArrayList<>();
    for (String part : raw.split(",")) {
      String text = part.strip();
      if (text.isEmpty()) {
        continue;
      }
      Path path = Path.of(text.indexOf('\0') >= 0 ? "/" : text);
      boolean good =
          text.startsWith("/")
              && text.indexOf('\0') < 0
              && !text.contains("/../")
              && !text.endsWith("/..")
              && !path.normalize().toString().equals("/");
      if (!good) {
        throw Failure.invalid(
            "volume context key '"
                + HOST_PATH
                + "' has "
                + Quoted.of(text)
                + ", which is not an absolute host path other than '/' (without '..'); list host"
                + " paths separated by commas, e.g. /etc/ssl/certs,/data/keys");
      }
      Path normal = path.normalize();
      if (!paths.contains(normal)) {
        paths.add(normal);
      }
    }
    return List.copyOf(paths);
  }
}

package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.Node;
import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.jfscsi.Failure;
import io.jfscsi.juicefs.ObjectTemplates;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two template languages of the JuiceFS CSI Driver's StorageClass parameters, for one claim:
 *
 * <ul>
 *   <li>{@code pathPattern}, the other parameters and mountOptions: the {@link ObjectTemplates} of
 *       the claim and, when it waits for its first consumer, of the node the scheduler chose; a
 *       missing label or annotation is empty, as in the Go driver;
 *   <li>secret references ({@code csi.storage.k8s.io/*-secret-name/-namespace}): {@code
 *       ${pvc.name}}, {@code ${pvc.namespace}}, {@code ${pv.name}} and {@code
 *       ${pvc.annotations['X']}}, as external-provisioner resolves them.
 * </ul>
 *
 * Anything else in {@code ${...}} of a path or a secret reference is refused in plain words.
 */
public final class Templates {
  private Templates() {}

  private static final Pattern ANY = Pattern.compile("\\$\\{([^}]*)}");
  private static final Pattern SECRET = ANY;
  private static final Pattern SECRET_ANNOTATION =
      Pattern.compile("pvc\\.annotations\\['([^']+)']");

  /**
   * The sub-directory {@code pathPattern} names for this claim, on {@code node} when the claim
   * waits for its first consumer (else {@code ${.node.*}} is empty, as in the Go driver); relative,
   * never empty.
   */
  public static String subPath(String pathPattern, PersistentVolumeClaim pvc, Optional<Node> node) {
    Matcher any = ANY.matcher(pathPattern);
    while (any.find()) {
      boolean known =
          ObjectTemplates.unknown(any.group()).isEmpty()
              && (ObjectTemplates.mentions(any.group(), "pvc")
                  || ObjectTemplates.mentions(any.group(), "node"));
      if (!known) {
        throw Failure.invalid(
            "pathPattern \""
                + pathPattern
                + "\": unknown placeholder ${"
                + any.group(1)
                + "} (known: ${.pvc.name}, ${.pvc.namespace}, ${.pvc.labels.KEY}, "
                + "${.pvc.annotations.KEY}, ${.node.name}, ${.node.podCIDR}, "
                + "${.node.labels.KEY}, ${.node.annotations.KEY})");
      }
    }
    String path =
        ObjectTemplates.fill(pathPattern, Optional.of(claim(pvc)), node.map(Templates::node), false)
            .replaceAll("/+", "/")
            .replaceAll("^/|/$", "");
    if (path.isEmpty()) {
      throw Failure.invalid(
          "pathPattern \""
              + pathPattern
              + "\" gives an empty path for claim "
              + pvc.getMetadata().getNamespace()
              + "/"
              + pvc.getMetadata().getName()
              + ": that would be the root of the file system");
    }
    for (String segment : path.split("/")) {
      if (segment.equals("..") || segment.equals(".")) {
        throw Failure.invalid(
            "pathPattern \""
                + pathPattern
                + "\" gives \""
                + path
                + "\", which has a '"
                + segment
                + "' component");
      }
      if (segment.indexOf('\0') >= 0) {
        throw Failure.invalid("pathPattern \"" + pathPattern + "\" gives a path with NUL");
      }
    }
    return path;
  }

  /** Without a node: {@code ${.node.*}} is empty. */
  public static String subPath(String pathPattern, PersistentVolumeClaim pvc) {
    return subPath(pathPattern, pvc, Optional.empty());
  }

  /**
   * A StorageClass mount option with its {@code ${.pvc.*}} templates filled in, and its {@code
   * ${.node.*}} ones when the node is known; otherwise they stay for the node plugin to fill in at
   * mount time, on the node that mounts.
   */
  public static String mountOption(String option, PersistentVolumeClaim pvc, Optional<Node> node) {
    return ObjectTemplates.fill(option, Optional.of(claim(pvc)), node.map(Templates::node), true);
  }

  public static String mountOption(String option, PersistentVolumeClaim pvc) {
    return mountOption(option, pvc, Optional.empty());
  }

  /**
   * A StorageClass parameter (not a secret reference) with its templates filled in, as the Go
   * driver's provisioner does; {@code ${.node.*}} is empty when the node is not known.
   */
  public static String parameter(String value, PersistentVolumeClaim pvc, Optional<Node> node) {
    return ObjectTemplates.fill(value, Optional.of(claim(pvc)), node.map(Templates::node), false);
  }

  static ObjectTemplates.Subject claim(PersistentVolumeClaim pvc) {
    return ObjectTemplates.Subject.claim(
        pvc.getMetadata().getName(),
        pvc.getMetadata().getNamespace(),
        pvc.getMetadata().getLabels(),
        pvc.getMetadata().getAnnotations());
  }

  static ObjectTemplates.Subject node(Node node) {
    return ObjectTemplates.Subject.node(
        node.getMetadata().getName(),
        node.getSpec() == null ? "" : node.getSpec().getPodCIDR(),
        node.getMetadata().getLabels(),
        node.getMetadata().getAnnotations());
  }

  /** A secret name or namespace parameter with its {@code ${...}} resolved. */
  public static String secretReference(
      String parameter, String value, PersistentVolumeClaim pvc, String pvName) {
    Matcher m = SECRET.matcher(value);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String field = m.group(1).strip();
      Matcher a = SECRET_ANNOTATION.matcher(field);
      String resolved =
          switch (field) {
            case "pvc.name" -> pvc.getMetadata().getName();
            case "pvc.namespace" -> pvc.getMetadata().getNamespace();
            case "pv.name" -> pvName;
            default -> {
              if (a.matches()) {
                String v = nullToEmpty(pvc.getMetadata().getAnnotations()).get(a.group(1));
                if (v == null) {
                  throw Failure.invalid(
                      "StorageClass parameter "
                          + parameter
                          + " refers to "
                          + "annotation "
                          + a.group(1)
                          + ", which claim "
                          + pvc.getMetadata().getName()
                          + " does not have");
                }
                yield v;
              }
              throw Failure.invalid(
                  "StorageClass parameter "
                      + parameter
                      + " = \""
                      + value
                      + "\": unknown placeholder ${"
                      + m.group(1)
                      + "} (known: ${pvc.name}, "
                      + "${pvc.namespace}, ${pv.name}, ${pvc.annotations['KEY']})");
            }
          };
      m.appendReplacement(out, Matcher.quoteReplacement(resolved));
    }
    m.appendTail(out);
    return out.toString();
  }

  private static Map<String, String> nullToEmpty(Map<String, String> m) {
    return m == null ? Map.of() : m;
  }
}

package io.jfscsi.controller.kube;

import io.fabric8.kubernetes.api.model.PersistentVolumeClaim;
import io.jfscsi.Failure;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The two template languages of the JuiceFS CSI Driver's StorageClass parameters, for one claim:
 *
 * <ul>
 *   <li>{@code pathPattern}: {@code ${.pvc.name}}, {@code ${.pvc.namespace}}, {@code
 *       ${.pvc.labels.X}}, {@code ${.pvc.annotations.X}} (also spelt {@code .PVC.}); a missing
 *       label or annotation is empty, as in the Go driver;
 *   <li>secret references ({@code csi.storage.k8s.io/*-secret-name/-namespace}): {@code
 *       ${pvc.name}}, {@code ${pvc.namespace}}, {@code ${pv.name}} and {@code
 *       ${pvc.annotations['X']}}, as external-provisioner resolves them.
 * </ul>
 *
 * Anything else in {@code ${...}} is refused in plain words rather than left in a path or name.
 */
public final class Templates {
  private Templates() {}

  private static final Pattern PATH = Pattern.compile("\\$\\{([^}]*)}");
  private static final Pattern PATH_FIELD =
      Pattern.compile("\\.(?:pvc|PVC)\\.(name|namespace|labels\\.(.+)|annotations\\.(.+))");
  private static final Pattern SECRET = Pattern.compile("\\$\\{([^}]*)}");
  private static final Pattern SECRET_ANNOTATION =
      Pattern.compile("pvc\\.annotations\\['([^']+)']");

  /** The sub-directory {@code pathPattern} names for this claim; relative, never empty. */
  public static String subPath(String pathPattern, PersistentVolumeClaim pvc) {
    String path =
        claimFields("pathPattern", pathPattern, pvc, true)
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

  /**
   * A StorageClass mount option with its {@code ${.pvc.*}} placeholders replaced; any other
   * placeholder ({@code ${.node.*}}, resolved at mount time) stays as it is.
   */
  public static String mountOption(String option, PersistentVolumeClaim pvc) {
    return claimFields("mount option", option, pvc, false);
  }

  /**
   * {@code text} with every {@code ${.pvc.*}} placeholder replaced; {@code what} names it in a
   * refusal of an unknown placeholder ({@code strict}) or the placeholder is kept.
   */
  private static String claimFields(
      String what, String text, PersistentVolumeClaim pvc, boolean strict) {
    Matcher m = PATH.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      Matcher f = PATH_FIELD.matcher(m.group(1).strip());
      if (!f.matches()) {
        if (!strict) {
          m.appendReplacement(out, Matcher.quoteReplacement(m.group()));
          continue;
        }
        throw Failure.invalid(
            what
                + " \""
                + text
                + "\": unknown placeholder ${"
                + m.group(1)
                + "} (known: ${.pvc.name}, ${.pvc.namespace}, ${.pvc.labels.KEY}, "
                + "${.pvc.annotations.KEY})");
      }
      String value;
      if (f.group(2) != null) {
        value = nullToEmpty(pvc.getMetadata().getLabels()).getOrDefault(f.group(2), "");
      } else if (f.group(3) != null) {
        value = nullToEmpty(pvc.getMetadata().getAnnotations()).getOrDefault(f.group(3), "");
      } else if (f.group(1).equals("name")) {
        value = pvc.getMetadata().getName();
      } else {
        value = pvc.getMetadata().getNamespace();
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
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

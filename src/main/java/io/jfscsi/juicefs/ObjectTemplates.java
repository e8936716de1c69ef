package io.jfscsi.juicefs;

import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The JuiceFS CSI Driver's object templates in {@code pathPattern}, StorageClass parameters and
 * mount options: {@code ${.pvc.name}}, {@code ${.pvc.namespace}}, {@code ${.pvc.labels.X}}, {@code
 * ${.pvc.annotations.X}} (also spelt {@code .PVC.}), {@code ${.node.name}}, {@code
 * ${.node.podCIDR}}, {@code ${.node.labels.X}} and {@code ${.node.annotations.X}}.
 *
 * <p>As in the Go driver, a label or annotation the object lacks is empty. Other text, {@code
 * ${...}} included, is left as it is.
 */
public final class ObjectTemplates {
  private ObjectTemplates() {}

  /** What the templates of one object read: its fields by name, its labels and annotations. */
  public record Subject(
      Map<String, String> fields, Map<String, String> labels, Map<String, String> annotations) {
    public Subject {
      fields = Map.copyOf(fields);
      labels = labels == null ? Map.of() : Map.copyOf(labels);
      annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }

    public static Subject claim(
        String name, String namespace, Map<String, String> labels, Map<String, String> ann) {
      return new Subject(Map.of("name", name, "namespace", namespace), labels, ann);
    }

    public static Subject node(
        String name, String podCidr, Map<String, String> labels, Map<String, String> ann) {
      return new Subject(
          Map.of("name", name, "podCIDR", podCidr == null ? "" : podCidr), labels, ann);
    }

    String value(String field, String key) {
      if (key == null) {
        return fields.getOrDefault(field, "");
      }
      return field.equals("labels")
          ? labels.getOrDefault(key, "")
          : annotations.getOrDefault(key, "");
    }
  }

  /** What a template names; {@code key} is the label or annotation, else null. */
  public record Placeholder(String text, String object, String field, String key) {
    public boolean known() {
      return key != null
          || (object.equals("pvc") && (field.equals("name") || field.equals("namespace")))
          || (object.equals("node") && (field.equals("name") || field.equals("podCIDR")));
    }
  }

  private static final Pattern TEMPLATE =
      Pattern.compile("\\$\\{\\.(pvc|PVC|node)\\.(?:(labels|annotations)\\.([^}]*)|([^}]*))}");

  /** Whether {@code text} has a template of {@code object} ("pvc" or "node"). */
  public static boolean mentions(String text, String object) {
    Matcher m = TEMPLATE.matcher(text);
    while (m.find()) {
      if (placeholder(m).object().equals(object)) {
        return true;
      }
    }
    return false;
  }

  /**
   * {@code text} with the templates of the objects given filled in. A template of an object not
   * given is kept when {@code keepAbsent} (a later step knows it), else empty as in the Go driver.
   */
  public static String fill(
      String text, Optional<Subject> pvc, Optional<Subject> node, boolean keepAbsent) {
    Matcher m = TEMPLATE.matcher(text);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      Placeholder p = placeholder(m);
      Optional<Subject> subject = p.object().equals("pvc") ? pvc : node;
      String value;
      if (subject.isPresent()) {
        value = subject.get().value(p.field(), p.key());
      } else {
        value = keepAbsent ? p.text() : "";
      }
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** The first template in {@code text} that names no field the Go driver knows, if any. */
  public static Optional<Placeholder> unknown(String text) {
    Matcher m = TEMPLATE.matcher(text);
    while (m.find()) {
      Placeholder p = placeholder(m);
      if (!p.known()) {
        return Optional.of(p);
      }
    }
    return Optional.empty();
  }

  private static Placeholder placeholder(Matcher m) {
    String object = m.group(1).equals("node") ? "node" : "pvc";
    return m.group(2) != null
        ? new Placeholder(m.group(), object, m.group(2), m.group(3))
        : new Placeholder(m.group(), object, m.group(4), null);
  }
}

package io.jfscsi.juicefs;

import io.jfscsi.Failure;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.api.lowlevel.Compose;
import org.snakeyaml.engine.v2.common.ScalarStyle;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.MappingNode;
import org.snakeyaml.engine.v2.nodes.Node;
import org.snakeyaml.engine.v2.nodes.NodeTuple;
import org.snakeyaml.engine.v2.nodes.ScalarNode;

/**
 * The flat string maps the Go driver reads from the secret keys {@code envs} and {@code configs}: a
 * JSON object ({@code {"TZ":"Asia/Shanghai"}}), a YAML flow map ({@code {TZ: Asia/Shanghai}}, as in
 * the Go driver's own docs) or YAML block lines ({@code TZ: Asia/Shanghai}). Parsed by
 * snakeyaml-engine into nodes, not objects, so that every scalar keeps its text ({@code 010} stays
 * {@code 010}, as in the Go driver's map[string]string); only the flat subset is read, which is all
 * the Go driver can use.
 *
 * <p>Everything here came from a secret: messages name the secret key and the entry or line number,
 * never a name or a value from the text (nor snakeyaml's own message, which quotes it).
 */
final class FlatMapText {
  private FlatMapText() {}

  /** YAML and JSON nulls, which read as an empty string into a Go map[string]string. */
  private static final Set<String> NULLS = Set.of("", "~", "null", "Null", "NULL");

  // No ${VAR} expansion (no EnvConfig), no alias of a collection: a secret is data, not a program.
  private static final LoadSettings SETTINGS =
      LoadSettings.builder()
          .setLabel("secret")
          .setMaxAliasesForCollections(0)
          .setAllowRecursiveKeys(false)
          .build();

  /** Parses {@code text}, the value of secret key {@code key}, keeping the order of entries. */
  static Map<String, String> parse(String key, String text) {
    return parse("secret key", key, text);
  }

  /**
   * Parses {@code text}, the value of {@code where} (e.g. "volume context key") {@code key};
   * messages still never echo a name or a value from the text.
   */
  static Map<String, String> parse(String where, String key, String text) {
    Optional<Node> root;
    try {
      root = new Compose(SETTINGS).composeString(text);
    } catch (MarkedYamlEngineException e) {
      throw bad(
          where,
          key,
          "it is not valid YAML or JSON" + e.getProblemMark().map(FlatMapText::at).orElse(""));
    } catch (YamlEngineException e) {
      throw bad(where, key, "it is not valid YAML or JSON");
    }
    if (root.isEmpty()) {
      return Map.of();
    }
    if (!(root.get() instanceof MappingNode map)) {
      throw bad(where, key, "it is not a map of names to values" + at(root.get()));
    }
    Map<String, String> out = new LinkedHashMap<>();
    int entry = 0;
    for (NodeTuple tuple : map.getValue()) {
      entry++;
      String at = "entry " + entry + at(tuple.getKeyNode());
      String name = scalar(where, key, tuple.getKeyNode(), at, "name");
      String value = scalar(where, key, tuple.getValueNode(), at, "value");
      if (name.isEmpty()) {
        throw bad(where, key, at + " has an empty name");
      }
      if (out.putIfAbsent(name, value) != null) {
        throw bad(where, key, at + " repeats a name given earlier; give each name once");
      }
    }
    return Collections.unmodifiableMap(out);
  }

  private static String scalar(String source, String key, Node node, String where, String what) {
    if (!(node instanceof ScalarNode scalar)) {
      throw bad(
          source,
          key,
          where + " has a nested " + what + "; only a flat map of names to strings is supported");
    }
    ScalarStyle style = scalar.getScalarStyle();
    if (style == ScalarStyle.LITERAL || style == ScalarStyle.FOLDED) {
      throw bad(
          source, key, where + " uses a YAML block scalar; write the " + what + " on one line");
    }
    boolean oneLine =
        node.getStartMark()
            .flatMap(start -> node.getEndMark().map(end -> start.getLine() == end.getLine()))
            .orElse(true);
    if (!oneLine) {
      throw bad(
          source,
          key,
          where + " has a " + what + " over several lines; write each entry on one line");
    }
    return scalar.isPlain() && NULLS.contains(scalar.getValue()) ? "" : scalar.getValue();
  }

  private static String at(Node node) {
    return node.getStartMark().map(m -> " (line " + (m.getLine() + 1) + ")").orElse("");
  }

  private static String at(Mark mark) {
    return " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
  }

  private static Failure bad(String source, String key, String problem) {
    return Failure.invalid(
        source
            + " '"
            + key
            + "' is not a flat map of strings: "
            + problem
            + ". Write it as JSON ({\"NAME\": \"value\"}) or as one 'NAME: value' line per entry.");
  }
}

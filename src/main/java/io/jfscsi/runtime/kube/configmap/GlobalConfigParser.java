package io.jfscsi.runtime.kube.configmap;

import io.jfscsi.Failure;
import io.jfscsi.juicefs.SettingsParser;
import java.util.ArrayList;
import java.util.List;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import tools.jackson.core.JacksonException;
import tools.jackson.core.JsonParser;
import tools.jackson.core.TokenStreamContext;
import tools.jackson.core.TokenStreamLocation;
import tools.jackson.databind.DeserializationContext;
import tools.jackson.databind.DeserializationFeature;
import tools.jackson.databind.ValueDeserializer;
import tools.jackson.databind.deser.DeserializationProblemHandler;
import tools.jackson.dataformat.yaml.YAMLMapper;

/**
 * Reads the Go driver's {@code config.yaml} (Jackson YAML into {@link GlobalConfig}). Keys this
 * driver does not know (a newer Go driver's, or a misspelt one) do not refuse the file, as in the
 * Go driver, but are listed so the log can name them. A value of the wrong type, YAML that does not
 * parse, or an entry that cannot be applied refuses the whole file with where it is.
 */
public final class GlobalConfigParser {
  private GlobalConfigParser() {}

  /** The keys of the file, with nulls for what it leaves out. */
  record File(
      Boolean enableNodeSelector,
      Boolean enableNativeSidecar,
      Boolean enableSetQuota,
      Boolean enableControllerSetQuota,
      Boolean enableAutoRemoveRequestResources,
      Boolean enableAutoAbortStuckMountPod,
      Boolean enableLazyUmountTarget,
      Boolean enableKubeletListMountPod,
      List<MountPodPatch> mountPodPatch) {}

  /** A file read: its value, and the keys it has that were ignored ("key at line L"). */
  public record Parsed(GlobalConfig config, List<String> ignoredKeys) {}

  /**
   * Why a file is refused.
   *
   * @param line 1-based, 0 when the problem has no place in the text (an entry's content)
   * @param column 1-based, 0 likewise
   */
  public static final class Refused extends Exception {
    private final int line;
    private final int column;

    Refused(int line, int column, String message) {
      super(message, null, false, false);
      this.line = line;
      this.column = column;
    }

    public int line() {
      return line;
    }

    public int column() {
      return column;
    }

    /** "line L, column C: message", or just the message when it has no place. */
    public String describe() {
      return line > 0 ? "line " + line + ", column " + column + ": " + getMessage() : getMessage();
    }
  }

  public static Parsed parse(String yaml) throws Refused {
    if (yaml == null || yaml.isBlank()) {
      return new Parsed(GlobalConfig.DEFAULTS, List.of());
    }
    List<String> ignored = new ArrayList<>();
    YAMLMapper mapper =
        YAMLMapper.builder()
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            .addHandler(
                new DeserializationProblemHandler() {
                  @Override
                  public boolean handleUnknownProperty(
                      DeserializationContext ctxt,
                      JsonParser p,
                      ValueDeserializer<?> deserializer,
                      Object beanOrClass,
                      String propertyName) {
                    ignored.add(where(p.streamReadContext().getParent(), propertyName));
                    p.skipChildren();
                    return true;
                  }
                })
            .build();
    File file;
    try (JsonParser p = mapper.createParser(yaml)) {
      if (p.nextToken() == null) {
        return new Parsed(GlobalConfig.DEFAULTS, List.of()); // only comments
      }
      file = mapper.readValue(p, File.class);
    } catch (JacksonException e) {
      // A YAML syntax error: where snakeyaml found the problem, not where its context began.
      if (e.getCause() instanceof MarkedYamlEngineException y && y.getProblemMark().isPresent()) {
        Mark m = y.getProblemMark().get();
        throw new Refused(m.getLine() + 1, m.getColumn() + 1, problem(e));
      }
      TokenStreamLocation at = e.getLocation();
      int line = at == null ? 0 : Math.max(at.getLineNr(), 0);
      int column = at == null ? 0 : Math.max(at.getColumnNr(), 0);
      throw new Refused(line, column, problem(e));
    }
    if (file == null) {
      return new Parsed(GlobalConfig.DEFAULTS, List.copyOf(ignored));
    }
    Switches d = Switches.DEFAULTS;
    Switches switches =
        new Switches(
            or(file.enableNodeSelector(), d.enableNodeSelector()),
            or(file.enableNativeSidecar(), d.enableNativeSidecar()),
            or(file.enableSetQuota(), d.enableSetQuota()),
            or(file.enableControllerSetQuota(), d.enableControllerSetQuota()),
            or(file.enableAutoRemoveRequestResources(), d.enableAutoRemoveRequestResources()),
            or(file.enableAutoAbortStuckMountPod(), d.enableAutoAbortStuckMountPod()),
            or(file.enableLazyUmountTarget(), d.enableLazyUmountTarget()),
            or(file.enableKubeletListMountPod(), d.enableKubeletListMountPod()));
    List<MountPodPatch> entries = file.mountPodPatch() == null ? List.of() : file.mountPodPatch();
    for (int i = 0; i < entries.size(); i++) {
      check("mountPodPatch[" + i + "]", entries.get(i));
    }
    return new Parsed(new GlobalConfig(switches, entries), List.copyOf(ignored));
  }

  /** "mountPodPatch[0].key": where an ignored key is, from the parser's context. */
  private static String where(TokenStreamContext parent, String key) {
    List<String> parts = new ArrayList<>(List.of("." + key));
    for (TokenStreamContext c = parent; c != null && !c.inRoot(); c = c.getParent()) {
      if (c.inArray()) {
        parts.addFirst("[" + c.getCurrentIndex() + "]");
      } else if (c.currentName() != null) {
        parts.addFirst("." + c.currentName());
      }
    }
    return String.join("", parts).substring(1);
  }

  private static boolean or(Boolean value, boolean otherwise) {
    return value == null ? otherwise : value;
  }

  /** What an entry holds that no Mount Pod could be built with. */
  private static void check(String where, MountPodPatch entry) throws Refused {
    if (entry == null) {
      throw new Refused(0, 0, where + " is empty");
    }
    String problem = null;
    if (entry.pvcSelector() != null) {
      problem = LabelMatch.problem(where + ".pvcSelector", entry.pvcSelector().matchExpressions());
    }
    if (problem == null && entry.nodeSelector() != null) {
      problem =
          LabelMatch.problem(where + ".nodeSelector", entry.nodeSelector().matchExpressions());
    }
    if (problem == null && entry.cacheDirs() != null) {
      for (int i = 0; i < entry.cacheDirs().size() && problem == null; i++) {
        PatchCacheDir dir = entry.cacheDirs().get(i);
        problem =
            dir == null
                ? where + ".cacheDirs[" + i + "] is empty"
                : dir.problem(where + ".cacheDirs[" + i + "]");
      }
    }
    if (problem == null && entry.mountOptions() != null) {
      try {
        SettingsParser.checkMountOptions(
            entry.mountOptions(), "in the ConfigMap's " + where + ".mountOptions");
      } catch (Failure f) {
        problem = f.getMessage();
      }
    }
    if (problem != null) {
      throw new Refused(0, 0, problem);
    }
  }

  /** Jackson's message without its location suffix (said separately) and source excerpt. */
  private static String problem(JacksonException e) {
    String message = e.getOriginalMessage();
    if (message == null) {
      message = e.getClass().getSimpleName();
    }
    String path = e.getPathReference();
    // snakeyaml's message quotes the text under its lines: keep only the sentences.
    String sentences =
        String.join(
            "; ",
            message
                .lines()
                .filter(l -> !l.isBlank() && !Character.isWhitespace(l.charAt(0)))
                .toList());
    return (sentences.isEmpty() ? message : sentences)
        + (path == null || path.isEmpty() ? "" : " (at " + shortPath(path) + ")");
  }

  /**
   * "GlobalConfigParser$File["mountPodPatch"]->java.util.ArrayList[0]..." as mountPodPatch[0]...
   */
  private static String shortPath(String reference) {
    StringBuilder out = new StringBuilder();
    for (String part : reference.split("->")) {
      int bracket = part.indexOf('[');
      if (bracket < 0) {
        continue;
      }
      String inside = part.substring(bracket + 1, part.lastIndexOf(']'));
      if (inside.startsWith("\"")) {
        out.append(out.isEmpty() ? "" : ".").append(inside.replace("\"", ""));
      } else {
        out.append('[').append(inside).append(']');
      }
    }
    return out.toString();
  }
}

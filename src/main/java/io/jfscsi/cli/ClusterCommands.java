package io.jfscsi.cli;

import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.management.cluster.ClusterView;
import io.jfscsi.runtime.kube.KubeClients;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import tools.jackson.databind.json.JsonMapper;

/**
 * What the cluster holds of this driver, read through the API as the controller's {@code GET
 * /cluster} reads it ({@link ClusterView}): {@code volumes} (each PV with its claim, app pods and
 * Mount Pods) and {@code mountpods} (each Mount Pod with its node, readiness, restarts and
 * references). A table, or JSON with {@code -o json}. Secrets are never read.
 */
final class ClusterCommands {
  private ClusterCommands() {}

  abstract static class Base implements Callable<Integer> {
    @Mixin KubeClients.Options api;

    @Option(
        names = "--driver-name",
        defaultValue = "csi.juicefs.com",
        description = "the CSI driver name (default: ${DEFAULT-VALUE})")
    String driverName;

    @Option(
        names = {"-o", "--output"},
        defaultValue = "table",
        description = "table or json (default: ${DEFAULT-VALUE})")
    Output output;

    @CommandLine.Spec CommandLine.Model.CommandSpec spec;

    enum Output {
      table,
      json
    }

    @Override
    public Integer call() {
      Map<String, Object> view;
      try (KubernetesClient client = api.connect()) {
        view = new ClusterView(client, driverName).read();
      }
      PrintWriter out = spec.commandLine().getOut();
      List<Map<String, Object>> rows = rows(view);
      if (output == Output.json) {
        out.println(JsonMapper.builder().build().writeValueAsString(rows));
      } else {
        print(out, header(), rows.stream().map(this::columns).toList());
      }
      out.flush();
      return 0;
    }

    abstract List<Map<String, Object>> rows(Map<String, Object> view);

    abstract List<String> header();

    abstract List<String> columns(Map<String, Object> row);
  }

  @Command(
      name = "volumes",
      mixinStandardHelpOptions = true,
      description = "List the JuiceFS PVs: claim, phase, app pods and the Mount Pods serving them.")
  static final class Volumes extends Base {
    @Override
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> rows(Map<String, Object> view) {
      return (List<Map<String, Object>>) view.get("volumes");
    }

    @Override
    List<String> header() {
      return List.of("PV", "CLAIM", "PHASE", "STORAGECLASS", "PODS", "MOUNT PODS");
    }

    @Override
    List<String> columns(Map<String, Object> v) {
      return List.of(
          text(v.get("pv")),
          text(v.get("claim")),
          text(v.get("phase")),
          text(v.get("storageClass")),
          names(v.get("pods")),
          names(v.get("mountPods")));
    }
  }

  @Command(
      name = "mountpods",
      mixinStandardHelpOptions = true,
      description =
          "List the Mount Pods: node, volume, readiness, restarts and the references they hold.")
  static final class MountPods extends Base {
    @Override
    @SuppressWarnings("unchecked")
    List<Map<String, Object>> rows(Map<String, Object> view) {
      return (List<Map<String, Object>>) view.get("mountPods");
    }

    @Override
    List<String> header() {
      return List.of("MOUNT POD", "NODE", "VOLUME", "READY", "RESTARTS", "REFERENCES", "DELETE AT");
    }

    @Override
    @SuppressWarnings("unchecked")
    List<String> columns(Map<String, Object> p) {
      return List.of(
          text(p.get("pod")) + (Boolean.TRUE.equals(p.get("deleting")) ? " (deleting)" : ""),
          text(p.get("node")),
          // A share mode's id is a StorageClass or file system: name the volumes it serves.
          Boolean.TRUE.equals(p.get("shared"))
              ? text(p.get("volumeId"))
                  + " (shared: "
                  + text(String.join(",", (List<String>) p.get("volumes")))
                  + ")"
              : text(p.get("volumeId")),
          text(p.get("ready")),
          text(p.get("restarts")),
          String.valueOf(((List<?>) p.get("references")).size()),
          text(p.get("deleteAt")));
    }
  }

  private static String text(Object o) {
    return o == null ? "-" : o.toString();
  }

  /** The {@code pod} names of a list of pod maps, comma-separated. */
  private static String names(Object pods) {
    List<?> list = (List<?>) pods;
    return list.isEmpty()
        ? "-"
        : list.stream().map(p -> text(((Map<?, ?>) p).get("pod"))).collect(Collectors.joining(","));
  }

  /** Columns padded to their widest cell, as kubectl prints its tables. */
  static void print(PrintWriter out, List<String> header, List<List<String>> rows) {
    List<List<String>> all = new ArrayList<>();
    all.add(header);
    all.addAll(rows);
    int[] width = new int[header.size()];
    for (List<String> r : all) {
      for (int i = 0; i < r.size(); i++) {
        width[i] = Math.max(width[i], Objects.requireNonNull(r.get(i)).length());
      }
    }
    for (List<String> r : all) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < r.size(); i++) {
        line.append(
            i == r.size() - 1 ? r.get(i) : String.format("%-" + (width[i] + 3) + "s", r.get(i)));
      }
      out.println(line.toString().stripTrailing());
    }
  }
}

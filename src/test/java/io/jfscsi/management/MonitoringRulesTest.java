package io.jfscsi.management;

import static org.assertj.core.api.Assertions.assertThat;

import io.grpc.Status;
import io.jfscsi.host.ContainerOutcome;
import io.jfscsi.mount.ClientRecovered;
import io.jfscsi.mount.ClientState;
import io.jfscsi.testing.HostRequirements;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

/**
 * deploy/monitoring: the alerting rules pass their promtool unit tests, and every metric that the
 * rules, their tests and the Grafana dashboard name is one the driver really serves (a scrape of
 * {@link DriverMetrics} with every metric in use) or, for {@code juicefs_*}, one JuiceFS documents
 * for its client.
 */
class MonitoringRulesTest {

  static final Path DIR = Path.of("deploy/monitoring");
  static final Path RULES = DIR.resolve("jfs-csi-alerts.yaml");
  static final Path RULE_TESTS = DIR.resolve("jfs-csi-alerts.test.yaml");
  static final Path DASHBOARD = DIR.resolve("grafana-dashboard.json");

  private static final Pattern DRIVER_METRIC = Pattern.compile("\\bjfscsi_[a-z_]+");
  private static final Pattern CLIENT_METRIC = Pattern.compile("\\bjuicefs_[a-z_]+");

  /** Labels that Prometheus adds to every scraped series. */
  private static final Set<String> TARGET_LABELS = Set.of("instance", "job");

  @Test
  void theRulesPassTheirPromtoolUnitTests() throws Exception {
    assertThat(promtool("check", "rules", RULES.toString())).contains("SUCCESS: 7 rules found");
    assertThat(promtool("test", "rules", RULE_TESTS.toString())).contains("SUCCESS");
  }

  @Test
  void everyAlertHasATestThatFiresIt() throws IOException {
    Set<String> alerts = new TreeSet<>();
    for (Map<String, Object> group : groups(yaml(RULES))) {
      for (Object rule : (List<?>) group.get("rules")) {
        alerts.add((String) ((Map<?, ?>) rule).get("alert"));
      }
    }
    Set<String> fired = new TreeSet<>();
    for (Object test : (List<?>) yaml(RULE_TESTS).get("tests")) {
      for (Object check : (List<?>) ((Map<?, ?>) test).get("alert_rule_test")) {
        Map<?, ?> c = (Map<?, ?>) check;
        if (!((List<?>) c.get("exp_alerts")).isEmpty()) {
          fired.add((String) c.get("alertname"));
        }
      }
    }
    assertThat(alerts).hasSize(7);
    assertThat(fired).isEqualTo(alerts);
  }

  @Test
  void theRulesAndTheirTestsNameOnlySeriesTheDriverServes() throws IOException {
    Map<String, Set<String>> served = served();
    for (Map<String, Object> group : groups(yaml(RULES))) {
      for (Object rule : (List<?>) group.get("rules")) {
        String expr = (String) ((Map<?, ?>) rule).get("expr");
        assertThat(names(DRIVER_METRIC, expr)).as(expr).isNotEmpty().isSubsetOf(served.keySet());
      }
    }
    Pattern series = Pattern.compile("([a-z_]+)\\{(.*)}");
    Pattern label = Pattern.compile("([a-z_]+)=\"([^\"]*)\"");
    Set<String> states =
        Arrays.stream(ClientState.values()).map(Enum::name).collect(Collectors.toSet());
    for (Object test : (List<?>) yaml(RULE_TESTS).get("tests")) {
      for (Object input : (List<?>) ((Map<?, ?>) test).get("input_series")) {
        String s = (String) ((Map<?, ?>) input).get("series");
        Matcher m = series.matcher(s);
        assertThat(m.matches()).as(s).isTrue();
        assertThat(served).as(s).containsKey(m.group(1));
        Matcher l = label.matcher(m.group(2));
        while (l.find()) {
          if (!TARGET_LABELS.contains(l.group(1))) {
            assertThat(served.get(m.group(1))).as(s).contains(l.group(1));
          }
          if (l.group(1).equals("state")) {
            assertThat(states).as(s).contains(l.group(2));
          }
          if (l.group(1).equals("code")) {
            assertThat(Status.Code.valueOf(l.group(2))).as(s).isNotNull();
          }
          if (l.group(1).equals("result")) {
            assertThat(l.group(2)).as(s).isIn("accepted", "refused");
          }
          if (l.group(1).equals("outcome")) {
            assertThat(l.group(2)).as(s).isIn("recovered", "failed");
          }
        }
      }
    }
  }

  @Test
  void thePrometheusRuleCarriesTheSameGroups() throws IOException {
    Map<String, Object> rule = yaml(DIR.resolve("prometheusrule.yaml"));
    assertThat(rule.get("kind")).isEqualTo("PrometheusRule");
    assertThat(((Map<?, ?>) rule.get("spec")).get("groups")).isEqualTo(yaml(RULES).get("groups"));
  }

  @Test
  void everyDashboardQueryParsesAndNamesOnlyServedOrDocumentedMetrics(@TempDir Path tmp)
      throws Exception {
    Map<String, Set<String>> served = served();
    Set<String> documented = documentedClientMetrics();
    List<String> exprs = new ArrayList<>();
    new ObjectMapper()
        .readTree(Files.readString(DASHBOARD)).findValues("expr").stream()
            .map(JsonNode::asText)
            .forEach(exprs::add);
    assertThat(exprs).hasSizeGreaterThan(15);
    Set<String> driverSeen = new TreeSet<>();
    for (String expr : exprs) {
      Set<String> driver = names(DRIVER_METRIC, expr);
      Set<String> client = names(CLIENT_METRIC, expr);
      assertThat(driver.size() + client.size()).as(expr).isPositive();
      assertThat(driver).as(expr).isSubsetOf(served.keySet());
      assertThat(client.stream().map(MonitoringRulesTest::family).toList())
          .as(expr)
          .isSubsetOf(documented);
      driverSeen.addAll(driver.stream().map(MonitoringRulesTest::family).toList());
    }
    assertThat(driverSeen)
        .as("every family the driver serves has a panel")
        .isEqualTo(served.keySet().stream().map(MonitoringRulesTest::family).collect(toSet()));
    // promtool parses every query as the expression of a recording rule.
    StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
    for (int i = 0; i < exprs.size(); i++) {
      rules
          .append("      - record: dashboard:q")
          .append(i)
          .append("\n        expr: '")
          .append(exprs.get(i).replace("'", "''"))
          .append("'\n");
    }
    Path file = tmp.resolve("dashboard-rules.yaml");
    Files.writeString(file, rules);
    assertThat(promtool("check", "rules", file.toString()))
        .contains("SUCCESS: " + exprs.size() + " rules found");
  }

  @Test
  void theLeaderGaugeFollowsTheLease() {
    DriverMetrics m = new DriverMetrics();
    boolean[] leading = {false};
    m.provisionerLeader(() -> leading[0]);
    assertThat(Http.sample(m.scrape(), "jfscsi_provisioner_leader")).isEqualTo(0);
    leading[0] = true;
    assertThat(Http.sample(m.scrape(), "jfscsi_provisioner_leader")).isEqualTo(1);
  }

  // ---- helpers -----------------------------------------------------------------------------

  /** Sample names of a scrape in which every metric of the driver has a sample, with labels. */
  static Map<String, Set<String>> served() {
    DriverMetrics m = new DriverMetrics();
    m.recordCall("NodePublishVolume", Status.Code.UNAVAILABLE, 1_000_000);
    m.observe(List.of(DriverMetricsTest.view("a", ClientState.READY, 2, 1)));
    m.onClientRecovered(new ClientRecovered("pv-a-1", "pv-a", Duration.ofSeconds(2), 3, 1));
    m.onOutcome(
        new ContainerOutcome(
            "pv-a",
            Optional.empty(),
            1,
            2,
            Path.of("/data"),
            Path.of("/mnt/a"),
            Optional.empty(),
            true,
            false,
            "recovered",
            Duration.ofMillis(3)));
    m.countKubernetesRequests(() -> Map.of("PATCH pods", 1L));
    m.provisionerLeader(() -> true);
    m.configLoads(() -> false, () -> Map.of("accepted", 2L, "refused", 1L));
    Map<String, Set<String>> served = new HashMap<>();
    Pattern sample = Pattern.compile("([a-z_]+)(?:\\{(.*)})? \\S+");
    Pattern label = Pattern.compile("([a-z_]+)=\"");
    for (String line : m.scrape().split("\n")) {
      Matcher s = sample.matcher(line);
      if (line.startsWith("#") || !s.matches()) {
        continue;
      }
      Set<String> labels = served.computeIfAbsent(s.group(1), k -> new TreeSet<>());
      if (s.group(2) != null) {
        Matcher l = label.matcher(s.group(2));
        while (l.find()) {
          labels.add(l.group(1));
        }
      }
    }
    assertThat(served).containsKeys("jfscsi_clients", "jfscsi_provisioner_leader");
    return served;
  }

  static Set<String> documentedClientMetrics() throws IOException {
    try (var in =
        MonitoringRulesTest.class.getResourceAsStream("/monitoring/juicefs-client-metrics.txt")) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8)
          .lines()
          .filter(l -> !l.isBlank() && !l.startsWith("#"))
          .collect(Collectors.toSet());
    }
  }

  /** A histogram's or summary's family name from one of its sample names. */
  static String family(String sample) {
    return sample.replaceAll("_(bucket|count|sum)$", "");
  }

  private static <T> java.util.stream.Collector<T, ?, Set<T>> toSet() {
    return Collectors.toCollection(TreeSet::new);
  }

  static Set<String> names(Pattern metric, String expr) {
    Set<String> names = new TreeSet<>();
    Matcher m = metric.matcher(expr);
    while (m.find()) {
      names.add(m.group());
    }
    return names;
  }

  @SuppressWarnings("unchecked")
  static Map<String, Object> yaml(Path file) throws IOException {
    return (Map<String, Object>)
        new Load(LoadSettings.builder().build()).loadFromString(Files.readString(file));
  }

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> groups(Map<String, Object> rules) {
    return (List<Map<String, Object>>) rules.get("groups");
  }

  /** promtool's output; fails the test on a non-zero exit. */
  static String promtool(String... args) throws Exception {
    Optional<Path> promtool = Optional.of(Path.of("/usr/bin/promtool")).filter(Files::isExecutable);
    HostRequirements.require(
        promtool.isPresent(), "promtool (Debian package prometheus) for deploy/monitoring");
    List<String> command = new ArrayList<>(List.of(promtool.get().toString()));
    command.addAll(List.of(args));
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(String.join(" ", command) + "\n" + out).isZero();
    return out;
  }
}

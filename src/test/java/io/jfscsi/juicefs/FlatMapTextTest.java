package io.jfscsi.juicefs;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.entry;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class FlatMapTextTest {

  @Test
  void reads_a_json_object() {
    assertThat(
            FlatMapText.parse(
                "envs", "{\"TZ\":\"Asia/Shanghai\", \"A\" : \"b \\\"q\\\" \\u00e9\"}"))
        .containsExactly(entry("TZ", "Asia/Shanghai"), entry("A", "b \"q\" \u00e9"));
  }

  @Test
  void reads_the_yaml_flow_map_of_the_go_driver_docs() {
    assertThat(FlatMapText.parse("envs", "{TZ: Asia/Shanghai}"))
        .containsExactly(entry("TZ", "Asia/Shanghai"));
    assertThat(FlatMapText.parse("envs", "{URL: http://host:80/x, 'K': 'it''s'}"))
        .containsExactly(entry("URL", "http://host:80/x"), entry("K", "it's"));
  }

  @Test
  void reads_yaml_block_lines_with_comments_and_quotes() {
    String text =
        """
        # proxy settings
        HTTP_PROXY: http://proxy:3128   # the corporate proxy
        NO_PROXY: "localhost,127.0.0.1"
        EMPTY:
        NUMBER: 42
        'QUOTED KEY': 'a # not a comment'
        """;
    assertThat(FlatMapText.parse("envs", text))
        .containsExactly(
            entry("HTTP_PROXY", "http://proxy:3128"),
            entry("NO_PROXY", "localhost,127.0.0.1"),
            entry("EMPTY", ""),
            entry("NUMBER", "42"),
            entry("QUOTED KEY", "a # not a comment"));
  }

  @Test
  void reads_configs_in_the_same_forms() {
    assertThat(FlatMapText.parse("configs", "my-ca: /etc/ssl/jfs"))
        .containsExactly(entry("my-ca", "/etc/ssl/jfs"));
    assertThat(FlatMapText.parse("configs", "{\"my-ca\": \"/etc/ssl/jfs\"}"))
        .containsExactly(entry("my-ca", "/etc/ssl/jfs"));
  }

  @Test
  void every_scalar_keeps_its_text_and_nothing_is_expanded() {
    assertThat(
            FlatMapText.parse(
                "envs", "A: 010\nB: 1.10\nC: true\nD: ${HOME}\nE: 0x1F\nF: 'null'\nG: ~"))
        .containsExactly(
            entry("A", "010"),
            entry("B", "1.10"),
            entry("C", "true"),
            entry("D", "${HOME}"),
            entry("E", "0x1F"),
            entry("F", "null"),
            entry("G", ""));
  }

  @Test
  void refusals_say_where() {
    assertThat(Volumes.refusal(() -> FlatMapText.parse("envs", "A: b\nB: c\n  continued")))
        .contains("entry 2 (line 2) has a value over several lines");
    assertThat(Volumes.refusal(() -> FlatMapText.parse("envs", "A: b\nB: {C: d}")))
        .contains("entry 2 (line 2) has a nested value");
    assertThat(Volumes.refusal(() -> FlatMapText.parse("envs", "A: b\nA: c")))
        .contains("entry 2 (line 2) repeats a name");
    assertThat(Volumes.refusal(() -> FlatMapText.parse("envs", "{\"A\": \"b\"")))
        .contains("not valid YAML or JSON at line 1");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "   ", "{}", "{ }", "# only a comment\n"})
  void empty_text_is_an_empty_map(String text) {
    assertThat(FlatMapText.parse("envs", text)).isEmpty();
  }

  @ParameterizedTest(name = "refuses {0}")
  @ValueSource(
      strings = {
        "{\"s3cr3tA\": \"s3cr3tB\"",
        "{\"s3cr3tA\" \"s3cr3tB\"}",
        "{\"s3cr3tA\": {\"B\": \"s3cr3tC\"}}",
        "{s3cr3tA: [1, 2]}",
        "{A: s3cr3tB} s3cr3tX",
        "{\"A\": \"s3cr3t unterminated}",
        "{\"A\": \"s3cr3t \\q escape\"}",
        "s3cr3tA: b\n  s3cr3tB: c",
        "s3cr3t words",
        "s3cr3tA: |\n  multi",
        "s3cr3tA: b\ns3cr3tA: c",
        "{s3cr3tA: b, s3cr3tA: c}",
        ": s3cr3t",
        "A: [s3cr3t]",
        "A: 's3cr3t' trailing"
      })
  void refuses_what_is_not_a_flat_map_naming_the_key_and_not_the_text(String text) {
    String message = Volumes.refusal(() -> FlatMapText.parse("envs", text));
    assertThat(message).contains("secret key 'envs'").contains("JSON").doesNotContain("s3cr3t");
  }
}

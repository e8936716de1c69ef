package io.jfscsi.bench;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a bench run leaves behind decides whether it failed: its own targets, not user data. */
class WorkspaceTest {
  @TempDir Path dir;

  private final ByteArrayOutputStream out = new ByteArrayOutputStream();
  private final Report report = new Report(new PrintWriter(out, true, StandardCharsets.UTF_8));

  @Test
  void aCleanRunLeavesNothing() throws Exception {
    Workspace ws =
        new Workspace("b", dir.resolve("kubelet"), dir.resolve("data"), 2, Map.of(), Map.of());
    ws.targets(0, 2);

    assertThat(ws.cleanUpAndReport(report)).isFalse();
    assertThat(out.toString(StandardCharsets.UTF_8)).doesNotContain("left in place");
    assertThat(dir.resolve("kubelet/pods")).isEmptyDirectory();
    assertThat(dir.resolve("data")).doesNotExist();
  }

  @Test
  void aTargetLeftBehindFailsTheRun() throws Exception {
    Workspace ws =
        new Workspace("b", dir.resolve("kubelet"), dir.resolve("data"), 1, Map.of(), Map.of());
    Workspace.Target t = ws.targets(0, 1).getFirst();
    Files.createDirectories(t.path());
    Files.writeString(t.path().resolve("file"), "a target the driver did not unpublish");

    assertThat(ws.cleanUpAndReport(report)).isTrue();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("left in place");
  }

  @Test
  void aUsersDataDirectoryMayKeepItsFiles() throws Exception {
    Path data = Files.createDirectories(dir.resolve("mine"));
    Files.writeString(data.resolve("kept"), "the user's");
    Workspace ws = new Workspace("b", dir.resolve("kubelet"), data, 1, Map.of(), Map.of());
    ws.targets(0, 1);

    assertThat(ws.cleanUpAndReport(report)).isFalse();
    assertThat(out.toString(StandardCharsets.UTF_8)).contains("left in place");
    assertThat(data.resolve("kept")).exists();
  }
}

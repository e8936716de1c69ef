package io.jfscsi.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code jfs-csi upgrade BATCH} against a real HTTP server standing in for the node plugin's
 * management server: both spellings of the options (ours and the Go driver's) reach the request,
 * the lines are printed as they come, and the exit code follows the last line; what is not a batch
 * upgrade is refused before any request.
 */
class UpgradeCommandTest {
  HttpServer server;
  final List<String> requests = new CopyOnWriteArrayList<>();
  volatile String answer = "";
  final ByteArrayOutputStream out = new ByteArrayOutputStream();
  PrintStream stdout;

  @BeforeEach
  void start() throws Exception {
    server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    server.createContext(
        "/",
        exchange -> {
          requests.add(
              exchange.getRequestMethod()
                  + " "
                  + exchange.getRequestURI()
                  + " "
                  + exchange.getRequestHeaders().getFirst("Authorization"));
          exchange.getResponseHeaders().add("Content-Type", "text/plain; charset=UTF-8");
          exchange.sendResponseHeaders(200, 0);
          try (OutputStream body = exchange.getResponseBody()) {
            body.write(answer.getBytes(StandardCharsets.UTF_8));
          }
        });
    server.start();
    stdout = System.out;
    System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
  }

  @AfterEach
  void stop() {
    System.setOut(stdout);
    server.stop(0);
  }

  @Test
  void theGoDriversSpellingsReachTheRequestAndAFailedBatchExitsOne() {
    answer = "Start to upgrade pod p1\nPOD-FAIL [p1] broke\nBATCH-FAIL some pods upgrade failed\n";

    int code = run("upgrade", "BATCH", "--recreate", "--worker=4", "--ignoreError");

    assertThat(code).isEqualTo(1);
    assertThat(requests)
        .containsExactly("POST /clients/upgrade?worker=4&ignoreError=true Bearer t0ken");
    assertThat(out.toString(StandardCharsets.UTF_8))
        .isEqualTo(
            "Start to upgrade pod p1\nPOD-FAIL [p1] broke\nBATCH-FAIL some pods upgrade failed\n");
  }

  @Test
  void ourSpellingsAndABatchThatSucceededExitZero() {
    answer = "POD-SUCCESS [p1] replaced\nBATCH-SUCCESS all pods upgrade success in node n1\n";

    assertThat(run("upgrade", "BATCH", "--recreate", "--worker", "2", "--ignore-error")).isZero();
    assertThat(run("upgrade", "BATCH", "--recreate")).isZero();

    assertThat(requests)
        .containsExactly(
            "POST /clients/upgrade?worker=2&ignoreError=true Bearer t0ken",
            "POST /clients/upgrade?worker=1&ignoreError=false Bearer t0ken");
  }

  @Test
  void anAnswerCutShortOfItsVerdictIsAFailure() {
    answer = "Start to upgrade pod p1\n";

    assertThat(run("upgrade", "BATCH", "--recreate")).isEqualTo(1);
  }

  @Test
  void whatIsNotABuiltBatchUpgradeIsRefusedBeforeAnyRequest() {
    assertThat(run("upgrade", "BATCH")).as("without --recreate").isEqualTo(2);
    assertThat(run("upgrade", "pod-1", "--recreate", "--worker", "2"))
        .as("--worker on one pod")
        .isEqualTo(2);
    assertThat(run("upgrade", "pod-1", "--recreate", "--ignoreError"))
        .as("--ignoreError on one pod")
        .isEqualTo(2);
    assertThat(run("upgrade", "BATCH", "--recreate", "--worker=many"))
        .as("a worker that is no number")
        .isEqualTo(2);
    assertThat(requests).isEmpty();
  }

  private int run(String... args) {
    String[] all = new String[args.length + 4];
    System.arraycopy(args, 0, all, 0, args.length);
    all[args.length] = "--url";
    all[args.length + 1] = "http://127.0.0.1:" + server.getAddress().getPort();
    all[args.length + 2] = "--token";
    all[args.length + 3] = "t0ken";
    return Main.commandLine().execute(all);
  }
}

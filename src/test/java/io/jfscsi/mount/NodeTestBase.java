package io.jfscsi.mount;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.ManualTime;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.io.TempDir;

/**
 * One actor system with {@link ManualTime} per test class; one simulated node per test, whose
 * guardian is stopped after the test so that no timer of it fires in the next one.
 */
abstract class NodeTestBase {

  static ActorTestKit kit;

  @TempDir Path tempDir;

  NodeHarness node;

  @BeforeAll
  static void startActorSystem() {
    kit = ActorTestKit.create(ManualTime.config().withFallback(ConfigFactory.load()));
  }

  @AfterAll
  static void stopActorSystem() {
    kit.shutdownTestKit();
  }

  @BeforeEach
  void startNode() {
    node = new NodeHarness(kit, tempDir);
  }

  @AfterEach
  void stopNode() {
    node.close();
  }
}

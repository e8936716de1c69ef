package io.jfscsi.management;

import io.jfscsi.management.cluster.ClusterPage;
import io.jfscsi.mount.NodeGuardian;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ActorSystem;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.typed.ActorRef;

/**
 * What the management routes and health checks of one driver read, kept as an extension of its
 * actor system: pekko-management builds routes and checks by class name with the actor system as
 * their only argument, so this is where they find the driver they belong to.
 */
public final class ManagementContext implements Extension {

  /**
   * The driver's side.
   *
   * @param guardian the node guardian, or null when the node role is off
   * @param probe the CSI Probe's readiness (runtime ready and the guardian answering)
   * @param upgrades the node's smooth upgrades, or null when the node role is off
   */
  public record Hooks(
      ActorRef<NodeGuardian.Command> guardian,
      DriverMetrics metrics,
      Supplier<CompletionStage<Boolean>> probe,
      ManagementSettings settings,
      ActorRef<NodeUpgrades.Command> upgrades) {}

  private static final Id ID = new Id();

  private final AtomicReference<Hooks> hooks = new AtomicReference<>();
  private final AtomicBoolean csiServing = new AtomicBoolean();
  private final AtomicReference<ClusterPage> clusterPage = new AtomicReference<>();
  private final AtomicReference<Supplier<Optional<String>>> registrationRefusal =
      new AtomicReference<>(Optional::empty);

  private final AtomicReference<Supplier<List<String>>> warnings = new AtomicReference<>(List::of);

  private ManagementContext() {}

  public static ManagementContext get(ActorSystem system) {
    return ID.get(system);
  }

  public static ManagementContext get(org.apache.pekko.actor.typed.ActorSystem<?> system) {
    return ID.get(system.classicSystem());
  }

  void install(Hooks h) {
    if (!hooks.compareAndSet(null, h)) {
      throw new IllegalStateException("management is already installed on this actor system");
    }
  }

  Hooks hooks() {
    Hooks h = hooks.get();
    if (h == null) {
      throw new IllegalStateException(
          "management routes started before the driver installed " + "its hooks");
    }
    return h;
  }

  /** Serves {@code /cluster} and its page from now on (cluster mode with the controller role). */
  public void clusterPage(ClusterPage page) {
    clusterPage.set(page);
  }

  Optional<ClusterPage> clusterPage() {
    return Optional.ofNullable(clusterPage.get());
  }

  /** Where /ready learns whether kubelet refused the plugin registration (node role). */
  public void registrationRefusal(Supplier<Optional<String>> refusal) {
    registrationRefusal.set(refusal);
  }

  Optional<String> registrationRefusal() {
    return registrationRefusal.get().get();
  }

  /** Where /ready learns what to add to its OK (a refused ConfigMap, ...). */
  public void warnings(Supplier<List<String>> source) {
    warnings.set(source);
  }

  List<String> warnings() {
    return warnings.get().get();
  }

  /** Whether the CSI server accepts calls on its socket; /ready says no while it does not. */
  public void csiServing(boolean serving) {
    csiServing.set(serving);
  }

  boolean csiServing() {
    return csiServing.get();
  }

  private static final class Id extends AbstractExtensionId<ManagementContext> {
    @Override
    public ManagementContext createExtension(ExtendedActorSystem system) {
      return new ManagementContext();
    }
  }
}

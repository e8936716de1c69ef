package io.jfscsi.webhook;

import io.fabric8.kubernetes.api.model.Container;
import io.fabric8.kubernetes.api.model.Pod;
import io.fabric8.kubernetes.api.model.Volume;
import java.util.HashSet;
import java.util.Set;

/**
 * The volume and container names an app pod has taken, so that each injected volume and client gets
 * one of its own: a name that is taken gets {@code -2}, {@code -3}... Volumes and containers are
 * named apart (a volume may share its name with a container).
 */
final class PodNames {
  private static final String CONTAINER = "container:";

  private final Set<String> taken = new HashSet<>();

  PodNames(Pod pod) {
    for (Volume v : pod.getSpec().getVolumes()) {
      taken.add(v.getName());
    }
    for (Container c : pod.getSpec().getContainers()) {
      taken.add(CONTAINER + c.getName());
    }
    if (pod.getSpec().getInitContainers() != null) {
      for (Container c : pod.getSpec().getInitContainers()) {
        taken.add(CONTAINER + c.getName());
      }
    }
  }

  /** {@code name}, or the first of {@code name-2}, {@code name-3}... no volume has; now taken. */
  String volume(String name) {
    return unique(name, "");
  }

  /** As {@link #volume}, among the containers and init containers. */
  String container(String name) {
    return unique(name, CONTAINER);
  }

  private String unique(String name, String space) {
    String candidate = name;
    for (int n = 2; taken.contains(space + candidate); n++) {
      candidate = name + "-" + n;
    }
    taken.add(space + candidate);
    return candidate;
  }
}

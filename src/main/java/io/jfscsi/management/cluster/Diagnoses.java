package io.jfscsi.management.cluster;

import io.fabric8.kubernetes.api.model.Event;
import io.fabric8.kubernetes.client.KubernetesClient;
import io.jfscsi.doctor.Doctor;
import io.jfscsi.doctor.Facts;
import io.jfscsi.doctor.FactsCollector;
import io.jfscsi.doctor.Verdict;
import io.jfscsi.management.cluster.ClusterProblems.DoctorSubject;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The doctor's verdict on each problem of the cluster page, with the recent Events it read, kept
 * for a while: the doctor makes a few GET and LIST calls per subject, and the picture is rebuilt on
 * every change. Used by one thread only (the watch's), hence a plain map.
 */
final class Diagnoses {

  /** A verdict is asked again after this long, or when the problem's words change. */
  static final Duration FRESH = Duration.ofSeconds(30);

  /** Events shown per problem, the latest. */
  static final int EVENTS = 5;

  private record Entry(String problem, Instant at, Optional<Map<String, Object>> diagnosis) {}

  private final FactsCollector collector;
  private final Doctor doctor;
  private final Map<DoctorSubject, Entry> cache = new HashMap<>();

  Diagnoses(KubernetesClient client, String driverName) {
    this.collector = new FactsCollector(client);
    this.doctor = new Doctor(driverName);
  }

  /** The verdict on {@code subject}, asked again when {@code problem} changed or it is old. */
  Optional<Map<String, Object>> of(DoctorSubject subject, String problem, Instant now) {
    Entry e = cache.get(subject);
    if (e != null && e.problem().equals(problem) && e.at().plus(FRESH).isAfter(now)) {
      return e.diagnosis();
    }
    Optional<Map<String, Object>> d = ask(subject);
    cache.put(subject, new Entry(problem, now, d));
    return d;
  }

  /** Forgets the subjects that are no problem any more. */
  void retain(Set<DoctorSubject> current) {
    cache.keySet().retainAll(current);
  }

  private Optional<Map<String, Object>> ask(DoctorSubject subject) {
    try {
      Facts facts =
          subject.pod()
              ? collector.forPod(subject.namespace(), subject.name(), Optional.empty())
              : collector.forClaim(subject.namespace(), subject.name());
      return Optional.of(diagnosis(doctor.diagnose(facts), facts.events()));
    } catch (RuntimeException e) {
      Map<String, Object> failed = new LinkedHashMap<>();
      failed.put("side", null);
      failed.put("cause", "the doctor could not read " + subject + ": " + e.getMessage());
      failed.put("hints", List.of());
      failed.put("events", List.of());
      return Optional.of(failed);
    }
  }

  static Map<String, Object> diagnosis(Verdict verdict, List<Event> events) {
    Map<String, Object> d = new LinkedHashMap<>();
    d.put("side", verdict.side().words());
    d.put("cause", verdict.cause());
    d.put("hints", verdict.hints());
    d.put("evidence", verdict.evidence());
    d.put(
        "events",
        events.subList(Math.max(0, events.size() - EVENTS), events.size()).stream()
            .map(Diagnoses::event)
            .toList());
    return d;
  }

  /** One Event as the page lists it; Event messages never carry Secret values (the driver's). */
  static Map<String, Object> event(Event e) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("at", FactsCollector.when(e));
    m.put("type", e.getType());
    m.put("reason", e.getReason());
    m.put(
        "object",
        e.getInvolvedObject() == null
            ? null
            : e.getInvolvedObject().getKind() + " " + e.getInvolvedObject().getName());
    m.put("count", e.getCount());
    m.put("message", e.getMessage());
    return m;
  }
}

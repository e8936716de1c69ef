package io.jfscsi.mount;

import java.time.Duration;

/**
 * Published on the actor system's event stream each time a client that died (crash, hang, lost pod)
 * serves its targets again: {@code took} runs from the moment its death was seen to the moment
 * every target was bound again, and {@code targets} is how many were.
 */
public record ClientRecovered(
    String key, String volumeId, Duration took, int targets, int restarts) {}

package io.jfscsi.client;

/**
 * What a client start waits on right now, as a user should read it in a publish's answer (for a
 * Mount Pod: its name, phase and its container's waiting reason and message), secrets masked.
 *
 * @param description the text, complete in itself (no secret value)
 * @param stuck the start waits on something that does not fix itself soon (an image that cannot be
 *     pulled, a missing Secret, a pod that cannot be scheduled, a client in a crash loop): a
 *     publish is answered at once instead of waiting
 */
public record StartProgress(String description, boolean stuck) {}

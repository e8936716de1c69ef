package io.jfscsi.client;

/** A client died: its process exited or its pod failed. */
public record ClientExit(RunningClient client, String reason) {}

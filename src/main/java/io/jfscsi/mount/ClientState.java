package io.jfscsi.mount;

/** The life of one shared JuiceFS client as its {@link MountActor} sees it. */
public enum ClientState {
  /** The client is being started (or adopted); publishes wait for it. */
  STARTING,
  /** The client answers; targets are bound. */
  READY,
  /** The client died; a restart is scheduled with backoff. Targets are stale meanwhile. */
  BROKEN,
  /** The client is being started again after a crash. */
  RESTARTING,
  /** No target references the client; it stays up until its delayed exit is due. */
  DRAINING,
  /** The client is being stopped; the actor ends when it is gone. */
  STOPPING
}

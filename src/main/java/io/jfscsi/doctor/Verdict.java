package io.jfscsi.doctor;

import java.util.List;

/**
 * The doctor's answer: which side failed, why in one sentence, the evidence it read, and what to do
 * about it.
 */
public record Verdict(Side side, String cause, List<String> evidence, List<String> hints) {

  /** Where the failure is; the split users need first. */
  public enum Side {
    /** Nothing wrong found in the volume's chain. */
    NONE("no failure found"),
    /** The PV is not created or not bound: the controller side (provisioning). */
    CONTROLLER("PV not created (controller side)"),
    /** The pod does not start because the node plugin refused or failed the publish. */
    NODE("pod not starting (node side)"),
    /** The pod does not start because the Mount Pod (the JuiceFS client) does not serve. */
    MOUNT_POD("pod not starting (Mount Pod)");

    private final String words;

    Side(String words) {
      this.words = words;
    }

    public String words() {
      return words;
    }
  }

  public boolean healthy() {
    return side == Side.NONE;
  }
}

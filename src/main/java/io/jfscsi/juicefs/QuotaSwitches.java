package io.jfscsi.juicefs;

/**
 * The Go driver's two quota switches of its global ConfigMap, as the driver acts on them.
 *
 * @param setQuota {@code enableSetQuota}: a dynamic volume's size becomes a directory quota at all
 * @param inController {@code enableControllerSetQuota}: the controller sets it at provisioning;
 *     otherwise the node sets it at the volume's first mount
 */
public record QuotaSwitches(boolean setQuota, boolean inController) {

  /** The Go driver's defaults: both on. */
  public static final QuotaSwitches DEFAULTS = new QuotaSwitches(true, true);

  /** Whether provisioning (CreateVolume, the built-in provisioner) sets the quota. */
  public boolean atProvisioning() {
    return setQuota && inController;
  }
}

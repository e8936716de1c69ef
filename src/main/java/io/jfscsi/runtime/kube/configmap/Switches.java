package io.jfscsi.runtime.kube.configmap;

/**
 * The top-level switches of the Go driver's {@code config.yaml}, with its defaults ({@code
 * enableSetQuota} and {@code enableControllerSetQuota} default to true, the others to false). What
 * each one does in jfs-csi today is in docs/configuration.md, "The global ConfigMap".
 */
public record Switches(
    boolean enableNodeSelector,
    boolean enableNativeSidecar,
    boolean enableSetQuota,
    boolean enableControllerSetQuota,
    boolean enableAutoRemoveRequestResources,
    boolean enableAutoAbortStuckMountPod,
    boolean enableLazyUmountTarget,
    boolean enableKubeletListMountPod) {

  public static final Switches DEFAULTS =
      new Switches(false, false, true, true, false, false, false, false);
}

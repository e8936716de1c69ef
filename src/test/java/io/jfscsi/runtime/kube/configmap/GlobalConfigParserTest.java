package io.jfscsi.runtime.kube.configmap;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.fabric8.kubernetes.api.model.Quantity;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class GlobalConfigParserTest {

  /** Every field the Go driver patches, in the Go driver's own spelling. */
  static final String FULL =
      """
      enableNodeSelector: true
      enableSetQuota: false
      enableAutoAbortStuckMountPod: true
      enableLazyUmountTarget: true
      mountPodPatch:
        - ceMountImage: juicedata/mount:ce-v1.2.0
          eeMountImage: juicedata/mount:ee-5.1.0
          imagePullPolicy: IfNotPresent
          labels:
            team: storage
          annotations:
            note: "${VOLUME_ID} at ${MOUNT_POINT}"
          hostNetwork: true
          hostPID: true
          dnsPolicy: ClusterFirstWithHostNet
          dnsConfig:
            nameservers: ["10.0.0.10"]
            options:
              - name: ndots
                value: "2"
          livenessProbe:
            exec:
              command: ["stat", "${MOUNT_POINT}/${SUB_PATH}"]
            periodSeconds: 5
          readinessProbe:
            exec:
              command: ["stat", "${MOUNT_POINT}"]
            failureThreshold: 3
          startupProbe:
            tcpSocket:
              port: 9567
          lifecycle:
            preStop:
              exec:
                command: ["sh", "-c", "+e", "umount -l ${MOUNT_POINT}; exit 0"]
          resources:
            requests:
              cpu: 100m
              memory: 512Mi
            limits:
              memory: 2Gi
          terminationGracePeriodSeconds: 60
          volumes:
            - name: gc-secret
              secret:
                secretName: gc-secret
                defaultMode: 420
          volumeMounts:
            - name: gc-secret
              mountPath: /root/.config/gcloud
          env:
            - name: DEMO_GREETING
              value: "Hello ${VOLUME_NAME}"
            - name: FROM_FIELD
              valueFrom:
                fieldRef:
                  fieldPath: spec.nodeName
          initContainers:
            - name: warm
              image: busybox
              command: ["sh", "-c", "echo ${VOLUME_ID}"]
          mountOptions:
            - cache-size=204800
            - writeback_cache
          cacheDirs:
            - type: HostPath
              path: /data/jfs-cache
            - type: PVC
              name: cache-claim
            - type: EmptyDir
              medium: Memory
              sizeLimit: 1Gi
        - pvcSelector:
            matchLabels:
              app: web
            matchExpressions:
              - key: tier
                operator: In
                values: [gold, silver]
            matchName: data
            matchStorageClassName: juicefs-sc
          nodeSelector:
            disk: ssd
          hostNetwork: false
      """;

  @Test
  void readsEveryFieldOfTheGoFormat() throws Exception {
    var parsed = GlobalConfigParser.parse(FULL);
    assertThat(parsed.ignoredKeys()).isEmpty();
    GlobalConfig c = parsed.config();
    assertThat(c.switches())
        .isEqualTo(new Switches(true, false, false, true, false, true, true, false));
    assertThat(c.mountPodPatch()).hasSize(2);
    MountPodPatch p = c.mountPodPatch().get(0);
    assertThat(p.ceMountImage()).isEqualTo("juicedata/mount:ce-v1.2.0");
    assertThat(p.eeMountImage()).isEqualTo("juicedata/mount:ee-5.1.0");
    assertThat(p.imagePullPolicy()).isEqualTo("IfNotPresent");
    assertThat(p.labels()).containsEntry("team", "storage");
    assertThat(p.annotations()).containsEntry("note", "${VOLUME_ID} at ${MOUNT_POINT}");
    assertThat(p.hostNetwork()).isTrue();
    assertThat(p.hostPID()).isTrue();
    assertThat(p.dnsPolicy()).isEqualTo("ClusterFirstWithHostNet");
    assertThat(p.dnsConfig().getNameservers()).containsExactly("10.0.0.10");
    assertThat(p.dnsConfig().getOptions().get(0).getValue()).isEqualTo("2");
    assertThat(p.livenessProbe().getExec().getCommand())
        .containsExactly("stat", "${MOUNT_POINT}/${SUB_PATH}");
    assertThat(p.livenessProbe().getPeriodSeconds()).isEqualTo(5);
    assertThat(p.readinessProbe().getFailureThreshold()).isEqualTo(3);
    assertThat(p.startupProbe().getTcpSocket().getPort().getIntVal()).isEqualTo(9567);
    assertThat(p.lifecycle().getPreStop().getExec().getCommand()).hasSize(4);
    assertThat(p.resources().getRequests())
        .containsEntry("cpu", new Quantity("100m"))
        .containsEntry("memory", new Quantity("512Mi"));
    assertThat(p.resources().getLimits()).containsEntry("memory", new Quantity("2Gi"));
    assertThat(p.terminationGracePeriodSeconds()).isEqualTo(60L);
    assertThat(p.volumes().get(0).getSecret().getSecretName()).isEqualTo("gc-secret");
    assertThat(p.volumes().get(0).getSecret().getDefaultMode()).isEqualTo(420);
    assertThat(p.volumeMounts().get(0).getMountPath()).isEqualTo("/root/.config/gcloud");
    assertThat(p.env().get(0).getValue()).isEqualTo("Hello ${VOLUME_NAME}");
    assertThat(p.env().get(1).getValueFrom().getFieldRef().getFieldPath())
        .isEqualTo("spec.nodeName");
    assertThat(p.initContainers().get(0).getImage()).isEqualTo("busybox");
    assertThat(p.mountOptions()).containsExactly("cache-size=204800", "writeback_cache");
    assertThat(p.cacheDirs())
        .containsExactly(
            new PatchCacheDir("HostPath", "/data/jfs-cache", null, null, null),
            new PatchCacheDir("PVC", null, "cache-claim", null, null),
            new PatchCacheDir("EmptyDir", null, null, "Memory", new Quantity("1Gi")));
    MountPodPatch selected = c.mountPodPatch().get(1);
    assertThat(selected.pvcSelector().matchLabels()).isEqualTo(Map.of("app", "web"));
    assertThat(selected.pvcSelector().matchExpressions().get(0).getValues())
        .containsExactly("gold", "silver");
    assertThat(selected.pvcSelector().matchName()).isEqualTo("data");
    assertThat(selected.pvcSelector().matchStorageClassName()).isEqualTo("juicefs-sc");
    assertThat(selected.nodeSelector().matchLabels()).isEqualTo(Map.of("disk", "ssd"));
    assertThat(selected.hostNetwork()).isFalse();
  }

  @Test
  void anEmptyOrAbsentFileIsTheGoDefaults() throws Exception {
    assertThat(GlobalConfigParser.parse("").config()).isEqualTo(GlobalConfig.DEFAULTS);
    assertThat(GlobalConfigParser.parse("# nothing\n").config()).isEqualTo(GlobalConfig.DEFAULTS);
    assertThat(GlobalConfig.DEFAULTS.switches().enableSetQuota()).isTrue();
    assertThat(GlobalConfig.DEFAULTS.switches().enableControllerSetQuota()).isTrue();
    assertThat(GlobalConfig.DEFAULTS.switches().enableNodeSelector()).isFalse();
  }

  @Test
  void aNodeSelectorMayAlsoBeALabelSelector() throws Exception {
    var c =
        GlobalConfigParser.parse(
                """
                mountPodPatch:
                  - nodeSelector:
                      matchExpressions:
                        - {key: gpu, operator: Exists}
                    hostPID: true
                """)
            .config();
    NodeSelection n = c.mountPodPatch().get(0).nodeSelector();
    assertThat(n.matchLabels()).isEmpty();
    assertThat(n.matchExpressions().get(0).getOperator()).isEqualTo("Exists");
  }

  @Test
  void unknownKeysAreNamedButDoNotRefuseTheFile() throws Exception {
    var parsed =
        GlobalConfigParser.parse(
            """
            enableNodeSelector: false
            someFutureSwitch: true
            mountPodPatch:
              - hostnameKey: kubernetes.io/hostname
                hostPID: true
            """);
    assertThat(parsed.ignoredKeys())
        .containsExactlyInAnyOrder("someFutureSwitch", "mountPodPatch[0].hostnameKey");
    assertThat(parsed.config().mountPodPatch().get(0).hostPID()).isTrue();
  }

  @Test
  void yamlThatDoesNotParseIsRefusedWithItsLineAndColumn() {
    assertThatThrownBy(
            () ->
                GlobalConfigParser.parse(
                    """
                    enableNodeSelector: true
                    mountPodPatch:
                      - labels: {a: b
                        hostPID: true
                    """))
        .isInstanceOfSatisfying(
            GlobalConfigParser.Refused.class,
            r -> {
              assertThat(r.line()).isEqualTo(4);
              assertThat(r.column()).isGreaterThan(0);
              assertThat(r.describe()).startsWith("line 4, column ");
              assertThat(r.getMessage())
                  .contains("while parsing a flow mapping")
                  .contains("expected ',' or '}'")
                  .doesNotContain("hostPID");
            });
  }

  @Test
  void aValueOfTheWrongTypeIsRefusedWhereItIs() {
    assertThatThrownBy(
            () ->
                GlobalConfigParser.parse(
                    """
                    mountPodPatch:
                      - hostNetwork: true
                      - terminationGracePeriodSeconds: soon
                    """))
        .isInstanceOfSatisfying(
            GlobalConfigParser.Refused.class,
            r -> {
              assertThat(r.line()).isEqualTo(3);
              assertThat(r.column()).isEqualTo(36);
              assertThat(r.getMessage()).contains("mountPodPatch[1].terminationGracePeriodSeconds");
            });
    assertThatThrownBy(() -> GlobalConfigParser.parse("enableSetQuota: maybe\n"))
        .isInstanceOfSatisfying(
            GlobalConfigParser.Refused.class, r -> assertThat(r.line()).isEqualTo(1));
    assertThatThrownBy(() -> GlobalConfigParser.parse("- just\n- a list\n"))
        .isInstanceOf(GlobalConfigParser.Refused.class);
  }

  @Test
  void entriesThatCannotBeAppliedAreRefused() {
    for (String bad :
        List.of(
            "mountPodPatch:\n  - pvcSelector:\n      matchExpressions:\n        - {key: a, operator: Near}\n",
            "mountPodPatch:\n  - pvcSelector:\n      matchExpressions:\n        - {key: a, operator: In}\n",
            "mountPodPatch:\n  - cacheDirs:\n      - type: Tmpfs\n",
            "mountPodPatch:\n  - cacheDirs:\n      - type: HostPath\n        path: relative\n",
            "mountPodPatch:\n  - mountOptions: [cache-sise=100]\n",
            "mountPodPatch:\n  - mountOptions: [background]\n")) {
      assertThatThrownBy(() -> GlobalConfigParser.parse(bad))
          .as(bad)
          .isInstanceOfSatisfying(
              GlobalConfigParser.Refused.class,
              r -> assertThat(r.getMessage()).contains("mountPodPatch[0]"));
    }
  }
}

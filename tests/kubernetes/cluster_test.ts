/**
 * The chart on a real single-node Kubernetes (tests/kubernetes/_cluster.ts):
 * `helm install` with the agent image and a gateway image (the tests'
 * Collector with k8sattributes, alone in an image) imported into the node's
 * containerd; the agent DaemonSet's pod runs and turns Ready through its
 * readiness probe; an SDK-linked program in a pod of another namespace,
 * claiming another container, pod and namespace, is traced, and every one
 * of its spans arrives at a receiver on loopback through the gateway (which
 * lets in only the agents' bearer token) with the container.id and
 * k8s.pod.uid the agent read from its cgroup and the pod name and namespace
 * k8sattributes added from the API server. The gateway, on the host
 * network at 127.0.0.1, turns Ready through its health_check probe, and an
 * upgrade that rolls it completes (Recreate) and keeps the token.
 *
 * Part of `./task test`; `deno task e2e:kubernetes` runs it alone. Needs
 * root and eBPF; ~45 s warm, minutes the first time (it installs etcd and
 * containerd and builds Kubernetes into build/kubernetes/<version>).
 */
import assert from "node:assert/strict";
import { buildImage, checkoutImageRef } from "../../tools/image.ts";
import {
  ebpfAvailable,
  removePinRoot,
  root,
  testPinRoot,
  waitUntil,
} from "../../testing/harness.ts";
import { staticProgram } from "../../testing/containers.ts";
import { collectorVersion } from "../../testing/collector.ts";
import {
  attributeMap,
  collectingReceiver,
  unusedPort,
} from "../../testing/receiver.ts";
import {
  assertSpans,
  type ShowcaseRecord,
} from "../../testing/assert_spans.ts";
import { Cluster, sh } from "./_cluster.ts";

// deno-lint-ignore no-explicit-any
type Json = Record<string, any>;

/** The tests' Collector built without cgo, so that it runs alone in an image. */
async function staticCollector(): Promise<string> {
  const exe = `${root}build/otelcol/${collectorVersion()}/static/otelcol`;
  await sh("go", ["build", "-o", exe, "."], {
    cwd: `${root}testing/collector`,
    env: { CGO_ENABLED: "0" },
  });
  return exe;
}

/** The pinned Helm (tests/kubernetes builds it once into build/helm/). */
async function helm(): Promise<string> {
  return (await sh("go", ["run", "./cmd/chart", "helm"], {
    cwd: `${root}tests/kubernetes`,
  })).trim();
}

const canTrace = ebpfAvailable("Kubernetes e2e");

Deno.test({
  name:
    "the chart on a single-node Kubernetes: the agent turns Ready and a pod's spans arrive through the gateway with container.id, k8s.pod.uid and k8sattributes' pod name and namespace",
  ignore: !canTrace,
  async fn() {
    const t0 = performance.now();
    const [image, showcase, gatewayExe, helmExe] = await Promise.all([
      buildImage(checkoutImageRef()),
      staticProgram("showcase"),
      staticCollector(),
      helm(),
    ]);
    const tBuilt = performance.now();
    const receiver = await collectingReceiver();
    const pinRoot = testPinRoot("k8s");
    const out = await Deno.makeTempDir({ prefix: "spanbridge-k8s-out-" });
    const tag = `${Deno.pid}`;
    const gatewayRef = `localhost/spanbridge-e2e-gateway:${tag}`;
    const targetRef = `localhost/spanbridge-e2e-orders:${tag}`;
    const targetPath = `/srv/spanbridge-k8s-${tag}/orders`;
    const cluster = await Cluster.start();
    const tUp = performance.now();
    try {
      await cluster.importPodmanImage(image);
      await cluster.importImage(
        gatewayRef,
        { "/otelcol": gatewayExe },
        "/otelcol",
      );
      await cluster.importImage(
        targetRef,
        { [targetPath]: showcase },
        targetPath,
      );

      // The chart, as a user without CNI or kube-proxy installs it.
      const ns = "spanbridge";
      const gatewayPort = unusedPort();
      const apiPort = new URL(cluster.server).port;
      const helmArgs = [
        "install",
        "spanbridge",
        `${root}deploy/kubernetes/spanbridge`,
        `--kubeconfig=${cluster.kubeconfig}`,
        `--namespace=${ns}`,
        "--create-namespace",
        "--wait",
        "--timeout=4m",
        `--set=agent.image.tag=${image.replace(/.*:/, "")}`,
        "--set=agent.image.pullPolicy=Never",
        // The agent's own bpffs directory (its /sys/fs/bpf), unique to
        // this test: the agent pins under <pinRoot>/spanbridge.
        `--set=agent.bpffsHostPath=${pinRoot}`,
        `--set=agent.telemetry.port=${unusedPort()}`,
        `--set=agent.env.SPANBRIDGE_INCLUDE_EXE=${targetPath}`,
        "--set=gateway.image.repository=localhost/spanbridge-e2e-gateway",
        `--set=gateway.image.tag=${tag}`,
        "--set=gateway.image.pullPolicy=Never",
        "--set=gateway.hostNetwork=true",
        "--set=gateway.listenAddress=127.0.0.1",
        `--set=gateway.ports.otlpHttp=${gatewayPort}`,
        `--set=gateway.ports.otlpGrpc=${unusedPort()}`,
        `--set=gateway.exportEndpoint=${receiver.endpoint}`,
        "--set=gateway.telemetryLevel=none",
        // No kube-proxy: the Collector reaches the API server directly.
        `--set-json=gateway.extraEnv=${
          JSON.stringify([
            { name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1" },
            { name: "KUBERNETES_SERVICE_PORT", value: apiPort },
          ])
        }`,
      ];
      const helmEnv = {
        HELM_CACHE_HOME: `${cluster.dir}/helm`,
        HELM_CONFIG_HOME: `${cluster.dir}/helm`,
        HELM_DATA_HOME: `${cluster.dir}/helm`,
      };
      const isReady = (p: Json | undefined) =>
        p?.status?.conditions?.some((c: Json) =>
          c.type === "Ready" && c.status === "True"
        ) ?? false;
      const podsOf = async (component: string) =>
        (await cluster.api<Json>(
          `/api/v1/namespaces/${ns}/pods?labelSelector=app.kubernetes.io/component=${component}`,
        )).items as Json[];
      await sh(helmExe, helmArgs, { env: helmEnv }).catch(async (err) => {
        const pods = [...await podsOf("agent"), ...await podsOf("gateway")];
        throw new Error(
          `${err.message}\npods: ${
            JSON.stringify(pods.map((p) => p.status))
          }\n${cluster.dump()}`,
        );
      });
      const tInstalled = performance.now();

      // The agent's pod: running, Ready through its readiness probe (helm
      // --wait does not wait for it: a DaemonSet with maxUnavailable 1 on one
      // node counts as ready with none).
      let agent: Json = {};
      await waitUntil(
        async () => {
          [agent] = await podsOf("agent");
          return isReady(agent);
        },
        60_000,
        "the agent pod to be Ready",
      ).catch(async (err) => {
        throw new Error(
          `${err.message}: ${JSON.stringify(agent?.status)}\n${
            agent ? await cluster.podLog(ns, agent.metadata.name) : ""
          }`,
        );
      });
      const tReady = performance.now();
      assert.equal(agent.spec.nodeName, cluster.node);
      assert.equal(agent.status.phase, "Running");
      assert.equal(
        agent.spec.containers[0].readinessProbe.httpGet.path,
        "/readyz",
      );

      // An SDK-linked program in a pod of its own namespace.
      const targetNs = "shop";
      await cluster.api("/api/v1/namespaces", {
        method: "POST",
        body: {
          apiVersion: "v1",
          kind: "Namespace",
          metadata: { name: targetNs },
        },
      });
      const podBody = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "orders", namespace: targetNs },
        spec: {
          hostNetwork: true,
          restartPolicy: "Never",
          automountServiceAccountToken: false,
          containers: [{
            name: "orders",
            image: targetRef,
            imagePullPolicy: "Never",
            args: ["-wait-attach", "60s", "-record", "/out/record.json"],
            env: [
              { name: "OTEL_SERVICE_NAME", value: "orders" },
              // Claims of another pod in another namespace: the kernel's
              // and the API server's identity must win.
              {
                name: "OTEL_RESOURCE_ATTRIBUTES",
                value: [
                  `container.id=${"cd".repeat(32)}`,
                  "k8s.pod.uid=99999999-9999-4999-9999-999999999999",
                  "k8s.namespace.name=prod",
                  "k8s.pod.name=payments-7d9f",
                ].join(","),
              },
            ],
            volumeMounts: [{ name: "out", mountPath: "/out" }],
          }],
          volumes: [{
            name: "out",
            hostPath: { path: out, type: "Directory" },
          }],
        },
      };
      // The namespace's default ServiceAccount comes from a controller.
      await waitUntil(
        async () =>
          (await cluster.api<Json>(
            `/api/v1/namespaces/${targetNs}/pods`,
            { method: "POST", body: podBody, allow: [403] },
          )).kind === "Pod",
        30_000,
        "the target pod to be created",
      );
      let pod: Json = {};
      await waitUntil(
        async () => {
          pod = await cluster.api<Json>(
            `/api/v1/namespaces/${targetNs}/pods/orders`,
          );
          if (pod.status?.phase === "Failed") {
            throw new Error(
              `the target pod failed: ${
                JSON.stringify(pod.status)
              }\n${await cluster
                .podLog(targetNs, "orders")}`,
            );
          }
          return pod.status?.phase === "Succeeded";
        },
        120_000,
        "the target pod to succeed",
      ).catch(async (err) => {
        throw new Error(
          `${err.message}: ${
            JSON.stringify(pod.status)
          }\nagent:\n${await cluster
            .podLog(ns, agent.metadata.name)}\n${cluster.dump()}`,
        );
      });
      const record: ShowcaseRecord = JSON.parse(
        await Deno.readTextFile(`${out}/record.json`),
      );
      await waitUntil(
        () => receiver.spans.length >= record.spans.length,
        30_000,
        `${record.spans.length} spans at the receiver`,
      ).catch(async (err) => {
        const [gw] = await podsOf("gateway");
        throw new Error(
          `${err.message} (have ${receiver.spans.length})\nagent:\n${await cluster
            .podLog(ns, agent.metadata.name)}\ngateway:\n${await cluster.podLog(
              ns,
              gw.metadata.name,
            )}`,
        );
      });
      const tSpans = performance.now();

      const containerId = pod.status.containerStatuses[0].containerID.replace(
        /^containerd:\/\//,
        "",
      );
      for (const span of receiver.spans) {
        const attrs = attributeMap(span.resource);
        const text = (k: string) => attrs.get(k)?.stringValue;
        assert.equal(text("container.id"), containerId, "container.id");
        assert.equal(text("k8s.pod.uid"), pod.metadata.uid, "k8s.pod.uid");
        assert.equal(
          text("k8s.pod.name"),
          "orders",
          "k8s.pod.name (k8sattributes)",
        );
        assert.equal(
          text("k8s.namespace.name"),
          targetNs,
          "k8s.namespace.name (k8sattributes)",
        );
        assert.equal(text("k8s.node.name"), cluster.node, "k8s.node.name");
      }
      assertSpans(record, receiver.spans, "protobuf", {
        service: "orders",
        executable: "orders",
      });
      assert.equal(receiver.spans.length, record.spans.length, "spans once");
      // k8sattributes read pods, namespaces and ReplicaSets with the chart's
      // RBAC, and nothing went wrong on the way.
      const [gateway] = await podsOf("gateway");
      const gatewayLog = await cluster.podLog(ns, gateway.metadata.name);
      assert.match(gatewayLog, /Everything is ready/, gatewayLog);
      assert.ok(
        !/\t(warn|error)\t|forbidden/i.test(gatewayLog),
        `the gateway logged a warning or error:\n${gatewayLog}`,
      );

      // The gateway turned Ready through its health_check probe at
      // 127.0.0.1 (gateway.listenAddress) on the host network, and an
      // upgrade that rolls it completes: Recreate frees the host ports.
      const [oldGateway] = await podsOf("gateway");
      assert.ok(isReady(oldGateway), JSON.stringify(oldGateway.status));
      const probe = oldGateway.spec.containers[0].readinessProbe.httpGet;
      assert.deepEqual([probe.host, probe.port], ["127.0.0.1", "health"]);
      const token = async () =>
        (await cluster.api<Json>(
          `/api/v1/namespaces/${ns}/secrets/spanbridge-gateway-token`,
        )).data.token;
      const tokenBefore = await token();
      await sh(helmExe, [
        "upgrade",
        "spanbridge",
        `${root}deploy/kubernetes/spanbridge`,
        `--kubeconfig=${cluster.kubeconfig}`,
        `--namespace=${ns}`,
        "--reuse-values",
        "--set=gateway.podAnnotations.rolled=yes",
        "--wait",
        "--timeout=2m",
      ], { env: helmEnv }).catch(async (err) => {
        throw new Error(
          `${err.message}
pods: ${JSON.stringify((await podsOf("gateway")).map((p) => p.status))}`,
        );
      });
      const gateways = await podsOf("gateway");
      assert.ok(
        gateways.length === 1 &&
          gateways[0].metadata.name !== oldGateway.metadata.name &&
          isReady(gateways[0]),
        `after the upgrade: ${JSON.stringify(gateways.map((p) => p.status))}`,
      );
      assert.equal(await token(), tokenBefore, "the upgrade kept the token");

      await sh(helmExe, [
        "uninstall",
        "spanbridge",
        `--kubeconfig=${cluster.kubeconfig}`,
        `--namespace=${ns}`,
        "--wait",
      ], { env: helmEnv });
      const s = (a: number, b: number) => ((b - a) / 1000).toFixed(1);
      console.log(
        `timings (s): builds ${s(t0, tBuilt)}, cluster up ${s(tBuilt, tUp)} ${
          JSON.stringify(cluster.timings)
        }, images + helm install ${s(tUp, tInstalled)}, agent Ready ${
          s(tInstalled, tReady)
        }, target pod and spans ${s(tReady, tSpans)}`,
      );
    } finally {
      await cluster.stop();
      await receiver.close();
      removePinRoot(pinRoot);
      await Deno.remove(out, { recursive: true });
    }
  },
});

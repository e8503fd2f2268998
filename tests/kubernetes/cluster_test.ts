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
 * k8sattributes added from the API server; a second pod's program logs
 * through slog and otelslog over sdk.LoggerProvider (testing/slog), and
 * every log record it wrote arrives, record by record, through the
 * gateway's logs pipeline with its span's ids and the same resource as its
 * spans: its container.id, k8s.pod.uid, k8s.pod.name and
 * k8s.namespace.name. The gateway, on the host
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
  type CollectingReceiver,
  collectingReceiver,
  unusedPort,
} from "../../testing/receiver.ts";
import {
  assertSpans,
  type ShowcaseRecord,
} from "../../testing/assert_spans.ts";
import { Cluster, sh } from "./_cluster.ts";
import { toJson } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  assertSlogRecords,
  readSlogRecord,
  slogRecordCount,
} from "../../testing/slog_program.ts";

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

/** The repository of the gateway image the tests import (its tag: theirs). */
const gatewayRepository = "localhost/spanbridge-e2e-gateway";

/**
 * Imports the agent image `image` and the gateway image (`gatewayExe`
 * alone, as `gatewayRepository`:`tag`) into `cluster`'s containerd.
 */
async function importAgentAndGateway(
  cluster: Cluster,
  image: string,
  gatewayExe: string,
  tag: string,
): Promise<void> {
  await cluster.importPodmanImage(image);
  await cluster.importImage(
    `${gatewayRepository}:${tag}`,
    { "/otelcol": gatewayExe },
    "/otelcol",
  );
}

/** The pinned Helm (tests/kubernetes builds it once into build/helm/). */
async function helm(): Promise<string> {
  return (await sh("go", ["run", "./cmd/chart", "helm"], {
    cwd: `${root}tests/kubernetes`,
  })).trim();
}

/**
 * Runs `helm <verb> spanbridge` (the checkout's chart but for uninstall) on
 * `cluster` in namespace `ns`, with Helm's homes in the cluster's directory;
 * `args` follow.
 */
function chartHelm(
  helmExe: string,
  cluster: Cluster,
  ns: string,
  verb: "install" | "upgrade" | "uninstall",
  args: string[],
): Promise<string> {
  return sh(helmExe, [
    verb,
    "spanbridge",
    ...(verb === "uninstall" ? [] : [`${root}deploy/kubernetes/spanbridge`]),
    `--kubeconfig=${cluster.kubeconfig}`,
    `--namespace=${ns}`,
    ...args,
  ], {
    env: {
      HELM_CACHE_HOME: `${cluster.dir}/helm`,
      HELM_CONFIG_HOME: `${cluster.dir}/helm`,
      HELM_DATA_HOME: `${cluster.dir}/helm`,
    },
  });
}

/** The pods of `namespace` that `selector` (a label selector) picks. */
async function podsOf(
  cluster: Cluster,
  namespace: string,
  selector: string,
): Promise<Json[]> {
  return (await cluster.api<Json>(
    `/api/v1/namespaces/${namespace}/pods?labelSelector=${selector}`,
  )).items as Json[];
}

/** Whether pod `p` has the condition Ready. */
function isReady(p: Json | undefined): boolean {
  return p?.status?.conditions?.some((c: Json) =>
    c.type === "Ready" && c.status === "True"
  ) ?? false;
}

const canTrace = ebpfAvailable("Kubernetes e2e");

Deno.test({
  name:
    "the chart on a single-node Kubernetes: the agent turns Ready and a pod's spans, and another pod's log records, arrive through the gateway with container.id, k8s.pod.uid and k8sattributes' pod name and namespace",
  ignore: !canTrace,
  async fn() {
    const t0 = performance.now();
    const [image, showcase, slog, gatewayExe, helmExe] = await Promise.all([
      buildImage(checkoutImageRef()),
      staticProgram("showcase"),
      staticProgram("slog"),
      staticCollector(),
      helm(),
    ]);
    const tBuilt = performance.now();
    const receiver = await collectingReceiver();
    const pinRoot = testPinRoot("k8s");
    const out = await Deno.makeTempDir({ prefix: "spanbridge-k8s-out-" });
    const tag = `${Deno.pid}`;
    const targetRef = `localhost/spanbridge-e2e-orders:${tag}`;
    const targetPath = `/srv/spanbridge-k8s-${tag}/orders`;
    const logsRef = `localhost/spanbridge-e2e-logs:${tag}`;
    const logsPath = `/srv/spanbridge-k8s-${tag}/logs`;
    const logSpans = 50;
    const cluster = await Cluster.start();
    const tUp = performance.now();
    try {
      await importAgentAndGateway(cluster, image, gatewayExe, tag);
      await cluster.importImage(
        targetRef,
        { [targetPath]: showcase },
        targetPath,
      );
      await cluster.importImage(logsRef, { [logsPath]: slog }, logsPath);

      // The chart, as a user without CNI or kube-proxy installs it.
      const ns = "spanbridge";
      const gatewayPort = unusedPort();
      const apiPort = new URL(cluster.server).port;
      const helmArgs = [
        "--create-namespace",
        "--wait",
        "--timeout=4m",
        `--set=agent.image.tag=${image.replace(/.*:/, "")}`,
        "--set=agent.image.pullPolicy=Never",
        // The agent's own bpffs directory (its /sys/fs/bpf), unique to
        // this test: the agent pins under <pinRoot>/spanbridge.
        `--set=agent.bpffsHostPath=${pinRoot}`,
        `--set=agent.telemetry.port=${unusedPort()}`,
        `--set=agent.env.SPANBRIDGE_INCLUDE_EXE=/srv/spanbridge-k8s-${tag}/*`,
        `--set=gateway.image.repository=${gatewayRepository}`,
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
      const pods = (component: string) =>
        podsOf(cluster, ns, `app.kubernetes.io/component=${component}`);
      await chartHelm(helmExe, cluster, ns, "install", helmArgs).catch(
        async (err) => {
          const all = [...await pods("agent"), ...await pods("gateway")];
          throw new Error(
            `${err.message}\npods: ${
              JSON.stringify(all.map((p) => p.status))
            }\n${cluster.dump()}`,
          );
        },
      );
      const tInstalled = performance.now();

      // The agent's pod: running, Ready through its readiness probe (helm
      // --wait does not wait for it: a DaemonSet with maxUnavailable 1 on one
      // node counts as ready with none).
      let agent: Json = {};
      await waitUntil(
        async () => {
          [agent] = await pods("agent");
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
      // A program that logs through slog, in a pod of its own.
      await cluster.api(`/api/v1/namespaces/${targetNs}/pods`, {
        method: "POST",
        body: {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: "logs", namespace: targetNs },
          spec: {
            hostNetwork: true,
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            containers: [{
              name: "logs",
              image: logsRef,
              imagePullPolicy: "Never",
              args: [
                "-wait-attach",
                "60s",
                "-n",
                `${logSpans}`,
                "-record",
                "/out/logs.json",
              ],
              env: [{ name: "OTEL_SERVICE_NAME", value: "orders-logs" }],
              volumeMounts: [{ name: "out", mountPath: "/out" }],
            }],
            volumes: [{
              name: "out",
              hostPath: { path: out, type: "Directory" },
            }],
          },
        },
      });
      const succeeded = async (name: string): Promise<Json> => {
        let p: Json = {};
        await waitUntil(
          async () => {
            p = await cluster.api<Json>(
              `/api/v1/namespaces/${targetNs}/pods/${name}`,
            );
            if (p.status?.phase === "Failed") {
              throw new Error(
                `the pod ${name} failed: ${
                  JSON.stringify(p.status)
                }\n${await cluster
                  .podLog(targetNs, name)}`,
              );
            }
            return p.status?.phase === "Succeeded";
          },
          120_000,
          `the pod ${name} to succeed`,
        ).catch(async (err) => {
          throw new Error(
            `${err.message}: ${
              JSON.stringify(p.status)
            }\nagent:\n${await cluster
              .podLog(ns, agent.metadata.name)}\n${cluster.dump()}`,
          );
        });
        return p;
      };
      const pod = await succeeded("orders");
      const logsPod = await succeeded("logs");
      const record: ShowcaseRecord = JSON.parse(
        await Deno.readTextFile(`${out}/record.json`),
      );
      const serviceSpans = (service: string) =>
        receiver.spans.filter((s) =>
          attributeMap(s.resource).get("service.name")?.stringValue === service
        );
      const records = slogRecordCount(logSpans);
      await waitUntil(
        () =>
          serviceSpans("orders").length >= record.spans.length &&
          serviceSpans("orders-logs").length >= logSpans &&
          receiver.logRecords >= records,
        30_000,
        `${record.spans.length} + ${logSpans} spans and ${records} log records at the receiver`,
      ).catch(async (err) => {
        const [gw] = await pods("gateway");
        throw new Error(
          `${err.message} (have ${receiver.spans.length} spans, ${receiver.logRecords} log records)\nagent:\n${await cluster
            .podLog(ns, agent.metadata.name)}\ngateway:\n${await cluster.podLog(
              ns,
              gw.metadata.name,
            )}`,
        );
      });
      const tSpans = performance.now();

      const containerIdOf = (p: Json): string =>
        p.status.containerStatuses[0].containerID.replace(
          /^containerd:\/\//,
          "",
        );
      const containerId = containerIdOf(pod);
      const ordersSpans = serviceSpans("orders");
      for (const span of ordersSpans) {
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
      assertSpans(record, ordersSpans, "protobuf", {
        service: "orders",
        executable: "orders",
      });
      assert.equal(ordersSpans.length, record.spans.length, "spans once");

      // The log records: the resource of their process's spans, with the
      // pod's identity, and each record as the program wrote it.
      const logSpansGot = serviceSpans("orders-logs");
      assert.equal(logSpansGot.length, logSpans, "the slog program's spans");
      const spanResource = logSpansGot[0].resource;
      const text = (k: string) =>
        attributeMap(spanResource).get(k)?.stringValue;
      assert.deepEqual(
        [
          text("container.id"),
          text("k8s.pod.uid"),
          text("k8s.pod.name"),
          text("k8s.namespace.name"),
          text("k8s.node.name"),
        ],
        [
          containerIdOf(logsPod),
          logsPod.metadata.uid,
          "logs",
          targetNs,
          cluster.node,
        ],
        "the identity of the slog program's spans",
      );
      const logResources = receiver.logs.flatMap((l) =>
        l.resourceLogs.map((rl) => rl.resource!)
      );
      // As sets: k8sattributes adds its attributes in no fixed order.
      const byKey = (resource: Json) =>
        Object.fromEntries(
          [...attributeMap(resource)].sort(([a], [b]) => a < b ? -1 : 1),
        );
      for (const r of logResources) {
        assert.deepEqual(
          byKey(toJson(ResourceSchema, r) as Json),
          byKey(spanResource),
          "a log record's resource is that of its process's spans",
        );
      }
      const logged = await readSlogRecord(`${out}/logs.json`);
      assertSlogRecords(logged, receiver.logs, { resource: logResources[0] });
      // k8sattributes read pods, namespaces and ReplicaSets with the chart's
      // RBAC, and nothing went wrong on the way.
      const [gateway] = await pods("gateway");
      const gatewayLog = await cluster.podLog(ns, gateway.metadata.name);
      assert.match(gatewayLog, /Everything is ready/, gatewayLog);
      assert.ok(
        !/\t(warn|error)\t|forbidden/i.test(gatewayLog),
        `the gateway logged a warning or error:\n${gatewayLog}`,
      );

      // The gateway turned Ready through its health_check probe at
      // 127.0.0.1 (gateway.listenAddress) on the host network, and an
      // upgrade that rolls it completes: Recreate frees the host ports.
      const [oldGateway] = await pods("gateway");
      assert.ok(isReady(oldGateway), JSON.stringify(oldGateway.status));
      const probe = oldGateway.spec.containers[0].readinessProbe.httpGet;
      assert.deepEqual([probe.host, probe.port], ["127.0.0.1", "health"]);
      const token = async () =>
        (await cluster.api<Json>(
          `/api/v1/namespaces/${ns}/secrets/spanbridge-gateway-token`,
        )).data.token;
      const tokenBefore = await token();
      await chartHelm(helmExe, cluster, ns, "upgrade", [
        "--reuse-values",
        "--set=gateway.podAnnotations.rolled=yes",
        "--wait",
        "--timeout=2m",
      ]).catch(async (err) => {
        throw new Error(
          `${err.message}
pods: ${JSON.stringify((await pods("gateway")).map((p) => p.status))}`,
        );
      });
      const gateways = await pods("gateway");
      assert.ok(
        gateways.length === 1 &&
          gateways[0].metadata.name !== oldGateway.metadata.name &&
          isReady(gateways[0]),
        `after the upgrade: ${JSON.stringify(gateways.map((p) => p.status))}`,
      );
      assert.equal(await token(), tokenBefore, "the upgrade kept the token");

      await chartHelm(helmExe, cluster, ns, "uninstall", ["--wait"]);
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

/** The X-Scope-OrgID headers a receiver got, distinct. */
function orgIds(r: CollectingReceiver): (string | null)[] {
  return [...new Set(r.requests.map((q) => q.headers.get("x-scope-orgid")))];
}

/** service.name of every span a receiver got, distinct and sorted. */
function services(r: CollectingReceiver): string[] {
  return [
    ...new Set(
      r.spans.map((s) =>
        attributeMap(s.resource).get("service.name")?.stringValue
      ),
    ),
  ].sort() as string[];
}

Deno.test({
  name:
    "the chart's fleet policy on a single-node Kubernetes: tenants of two namespaces (and a pod label) reach only their endpoints whatever their SDK claims, and a tail-sampling tier of two pods decides whole traces",
  ignore: !canTrace,
  async fn() {
    const [image, hello, halves, gatewayExe, helmExe] = await Promise.all([
      buildImage(checkoutImageRef()),
      staticProgram("hello"),
      staticProgram("halves"),
      staticCollector(),
      helm(),
    ]);
    const pinRoot = testPinRoot("k8s-fleet");
    const tag = `${Deno.pid}`;
    const targetRef = `localhost/spanbridge-e2e-hello:${tag}`;
    const targetDir = `/srv/spanbridge-k8s-${tag}`;
    const targetPath = `${targetDir}/hello`;
    // One image per half, each with its own copy of the program: one
    // binary that two containers share is the subject of another test.
    const halvesRef = (role: string) =>
      `localhost/spanbridge-e2e-halves-${role}:${tag}`;
    const halvesPath = (role: string) => `${targetDir}/halves-${role}`;
    const cluster = await Cluster.start();
    // On the pods' bridge: the gateway (host network) and the sampling
    // tier's pods (pod network) both reach them there.
    const receivers = await Promise.all(
      [0, 1, 2, 3].map(() =>
        collectingReceiver({ hostname: cluster.podGateway })
      ),
    );
    const [rest, a, b, sampled] = receivers;
    const values = await Deno.makeTempFile({ suffix: ".json" });
    const ns = "spanbridge";
    const pods = (component: string) =>
      podsOf(cluster, ns, `app.kubernetes.io/component=${component}`);
    const logsOf = async (component: string) =>
      (await Promise.all(
        (await pods(component)).map(
          async (p) =>
            `--- ${p.metadata.name}\n${await cluster.podLog(
              ns,
              p.metadata.name,
            )}`,
        ),
      )).join("\n");
    try {
      await importAgentAndGateway(cluster, image, gatewayExe, tag);
      await cluster.importImage(targetRef, { [targetPath]: hello }, targetPath);
      for (const role of ["front", "back"]) {
        await cluster.importImage(
          halvesRef(role),
          { [halvesPath(role)]: halves },
          halvesPath(role),
        );
      }

      const gatewayPort = unusedPort();
      const apiPort = new URL(cluster.server).port;
      const tenantLabel = "spanbridge.io/tenant";
      await Deno.writeTextFile(
        values,
        JSON.stringify({
          agent: {
            image: { tag: image.replace(/.*:/, ""), pullPolicy: "Never" },
            bpffsHostPath: pinRoot,
            telemetry: { port: unusedPort() },
            env: { SPANBRIDGE_INCLUDE_EXE: `${targetDir}/*` },
          },
          gateway: {
            image: {
              repository: gatewayRepository,
              tag,
              pullPolicy: "Never",
            },
            hostNetwork: true,
            listenAddress: "127.0.0.1",
            ports: { otlpHttp: gatewayPort, otlpGrpc: unusedPort() },
            // The node has 2 cores: the chart's requests (1 core for the
            // gateway, half a core per sampling pod) would not fit.
            resources: { requests: { cpu: "100m", memory: "128Mi" } },
            exportEndpoint: rest.endpoint,
            telemetryLevel: "none",
            extraEnv: [
              { name: "KUBERNETES_SERVICE_HOST", value: "127.0.0.1" },
              { name: "KUBERNETES_SERVICE_PORT", value: apiPort },
            ],
            routing: {
              tenantLabel,
              tenants: [
                {
                  name: "team-a",
                  namespaces: ["team-a"],
                  endpoint: a.endpoint,
                  headers: { "X-Scope-OrgID": "team-a" },
                },
                {
                  name: "team-b",
                  namespaces: ["team-b"],
                  labelValues: ["team-b"],
                  endpoint: b.endpoint,
                  headers: { "X-Scope-OrgID": "team-b" },
                },
              ],
            },
          },
        }),
      );
      await chartHelm(helmExe, cluster, ns, "install", [
        "--create-namespace",
        `--values=${values}`,
        "--wait",
        "--timeout=4m",
      ]).catch((err) => {
        throw new Error(`${err.message}\n${cluster.dump()}`);
      });
      await waitUntil(
        async () => (await pods("agent")).some(isReady),
        60_000,
        "the agent pod to be Ready",
      );

      // Four programs: in team-a claiming team-b, in team-b claiming
      // team-a, in team-c with team-b's label claiming team-a's namespace,
      // and in team-c with no label (no tenant's: the default endpoint).
      const programs = [
        { name: "in-a", namespace: "team-a", labels: {} },
        { name: "in-b", namespace: "team-b", labels: {} },
        {
          name: "labelled-b",
          namespace: "team-c",
          labels: { [tenantLabel]: "team-b" },
        },
        { name: "unrouted", namespace: "team-c", labels: {} },
      ];
      const claims: Record<string, string> = {
        "in-a": "team-b",
        "in-b": "team-a",
        "labelled-b": "team-a",
        "unrouted": "team-a",
      };
      for (const namespace of ["team-a", "team-b", "team-c"]) {
        await cluster.api("/api/v1/namespaces", {
          method: "POST",
          body: {
            apiVersion: "v1",
            kind: "Namespace",
            metadata: { name: namespace },
          },
        });
      }
      for (const p of programs) {
        const claim = claims[p.name];
        const body = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: p.name, namespace: p.namespace, labels: p.labels },
          spec: {
            hostNetwork: true,
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            containers: [{
              name: "hello",
              image: targetRef,
              imagePullPolicy: "Never",
              args: ["-rate", "20", "-duration", "2s", "-wait-attach", "60s"],
              env: [
                { name: "OTEL_SERVICE_NAME", value: p.name },
                { name: "OTEL_BSP_SCHEDULE_DELAY", value: "100" },
                {
                  name: "OTEL_RESOURCE_ATTRIBUTES",
                  value:
                    `k8s.namespace.name=${claim},k8s.pod.label.${tenantLabel}=${claim}`,
                },
              ],
            }],
          },
        };
        await waitUntil(
          async () =>
            (await cluster.api<Json>(
              `/api/v1/namespaces/${p.namespace}/pods`,
              { method: "POST", body, allow: [403] },
            )).kind === "Pod",
          30_000,
          `pod ${p.name} to be created`,
        );
      }
      for (const p of programs) {
        await waitUntil(
          async () => {
            const pod = await cluster.api<Json>(
              `/api/v1/namespaces/${p.namespace}/pods/${p.name}`,
            );
            if (pod.status?.phase === "Failed") {
              throw new Error(
                `pod ${p.name} failed: ${await cluster.podLog(
                  p.namespace,
                  p.name,
                )}`,
              );
            }
            return pod.status?.phase === "Succeeded";
          },
          120_000,
          `pod ${p.name} to succeed`,
        );
      }
      // Each program's spans at its endpoint, then time for strays.
      const where = { "in-a": a, "in-b": b, "labelled-b": b, "unrouted": rest };
      await waitUntil(
        () =>
          Object.entries(where).every(([name, r]) =>
            r.spans.some((s) =>
              attributeMap(s.resource).get("service.name")?.stringValue ===
                name
            )
          ),
        30_000,
        "every program's spans at its endpoint",
      ).catch(async (err) => {
        throw new Error(
          `${err.message}: a ${services(a)}, b ${services(b)}, rest ${
            services(rest)
          }\n${await logsOf("gateway")}`,
        );
      });
      await new Promise((r) => setTimeout(r, 2_000));
      assert.deepEqual(services(a), ["in-a"], "team-a's endpoint");
      assert.deepEqual(services(b), ["in-b", "labelled-b"], "team-b's");
      assert.deepEqual(services(rest), ["unrouted"], "the default endpoint");
      assert.deepEqual(orgIds(a), ["team-a"]);
      assert.deepEqual(orgIds(b), ["team-b"]);
      assert.deepEqual(orgIds(rest), [null]);
      for (const s of [...a.spans, ...b.spans, ...rest.spans]) {
        const attrs = attributeMap(s.resource);
        const name = attrs.get("service.name")?.stringValue;
        const p = programs.find((q) => q.name === name)!;
        assert.equal(
          attrs.get("k8s.namespace.name")?.stringValue,
          p.namespace,
          `${name}: k8s.namespace.name`,
        );
        assert.equal(
          attrs.get(`k8s.pod.label.${tenantLabel}`)?.stringValue,
          (p.labels as Record<string, string>)[tenantLabel],
          `${name}: the tenant label`,
        );
      }

      // The tail-sampling tier: two pods on the pod network behind a
      // headless Service, the gateway's load_balancing exporter finding
      // them through the API server (k8s resolver).
      const percentage = 25;
      await chartHelm(helmExe, cluster, ns, "upgrade", [
        "--reuse-values",
        `--set=gateway.exportEndpoint=${sampled.endpoint}`,
        "--set=gateway.sampling.enabled=true",
        "--set=gateway.sampling.replicas=2",
        `--set=gateway.sampling.percentage=${percentage}`,
        "--set=gateway.sampling.latencyThresholdMs=1000",
        // decisionWait stays the chart's 10 s: a sampler decides a trace
        // one tick (1 s) short of it at the earliest after its first span,
        // and the two halves' pods may start seconds apart.
        "--set=gateway.sampling.resources.requests.cpu=100m",
        "--set=gateway.sampling.resources.requests.memory=128Mi",
        "--wait",
        "--timeout=3m",
      ]).catch(async (err) => {
        throw new Error(
          `${err.message}\n${await logsOf("sampler")}\n${cluster.dump()}`,
        );
      });
      const samplers = await pods("sampler");
      assert.equal(samplers.length, 2, JSON.stringify(samplers));
      const ips = new Set(samplers.map((p) => p.status.podIP));
      assert.equal(ips.size, 2, `sampler pods' addresses: ${[...ips]}`);
      await waitUntil(
        async () => {
          const slices = await cluster.api<Json>(
            `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices?labelSelector=kubernetes.io/service-name=spanbridge-sampler`,
          );
          const ready = slices.items.flatMap((s: Json) => s.endpoints ?? [])
            .filter((e: Json) => e.conditions?.ready);
          return ready.length === 2;
        },
        60_000,
        "two ready sampler endpoints",
      );
      await waitUntil(
        async () => (await pods("gateway")).some(isReady),
        60_000,
        "the new gateway to be Ready",
      );
      // Two programs in two pods, each making one half of every trace
      // (testing/halves): the back half of an error trace holds the error,
      // the front half of a slow trace its length, so a half decided alone
      // would lose it.
      const ordinary = 800, errors = 40, slow = 40;
      for (const role of ["front", "back"]) {
        const body = {
          apiVersion: "v1",
          kind: "Pod",
          metadata: { name: `halves-${role}`, namespace: "team-c" },
          spec: {
            hostNetwork: true,
            restartPolicy: "Never",
            automountServiceAccountToken: false,
            containers: [{
              name: "halves",
              image: halvesRef(role),
              imagePullPolicy: "Never",
              args: [
                "-role",
                role,
                "-seed",
                tag,
                "-traces",
                `${ordinary + errors + slow}`,
                "-errors",
                `${errors}`,
                "-slow",
                `${slow}`,
              ],
              env: [
                { name: "OTEL_SERVICE_NAME", value: `halves-${role}` },
                { name: "OTEL_BSP_SCHEDULE_DELAY", value: "100" },
              ],
            }],
          },
        };
        await cluster.api("/api/v1/namespaces/team-c/pods", {
          method: "POST",
          body,
        });
      }
      for (const role of ["front", "back"]) {
        await waitUntil(
          async () => {
            const pod = await cluster.api<Json>(
              `/api/v1/namespaces/team-c/pods/halves-${role}`,
            );
            if (pod.status?.phase === "Failed") {
              throw new Error(
                `halves-${role} failed: ${await cluster.podLog(
                  "team-c",
                  `halves-${role}`,
                )}`,
              );
            }
            return pod.status?.phase === "Succeeded";
          },
          120_000,
          `pod halves-${role} to succeed`,
        );
      }
      let seen = -1;
      await waitUntil(
        async () => {
          const now = sampled.spans.length;
          if (now === seen && now > 0) return true;
          seen = now;
          await new Promise((r) => setTimeout(r, 3_000));
          return false;
        },
        60_000,
        "the samplers' decisions",
      ).catch(async (err) => {
        throw new Error(
          `${err.message}\n${await logsOf("gateway")}\n${await logsOf(
            "sampler",
          )}`,
        );
      });
      const spans = Map.groupBy(sampled.spans, (s) => s.span.traceId);
      const kinds = new Map<string, string>();
      for (const [id, s] of spans) {
        const names = s.map((x) => x.span.name).sort();
        assert.deepEqual(
          names,
          ["GET /", "SELECT"],
          `trace ${id} kept in part, or more than once: ${
            JSON.stringify(s.map((x) => [
              x.span.name,
              x.span.spanId,
              attributeMap(x.resource).get("process.pid"),
              attributeMap(x.resource).get("container.id"),
            ]))
          }`,
        );
        const kind = attributeMap(s[0].span).get("halves.kind")?.stringValue;
        assert.ok(kind, `trace ${id} is not one of halves'`);
        kinds.set(id, kind);
      }
      const kept = (kind: string) =>
        [...kinds.values()].filter((k) => k === kind).length;
      assert.equal(kept("error"), errors, "error traces kept");
      assert.equal(kept("slow"), slow, "slow traces kept");
      // Binomial(800, 0.25): mean 200, standard deviation 12.2; 4.5 of
      // them either side.
      const p = percentage / 100;
      const sd = Math.sqrt(ordinary * p * (1 - p));
      assert.ok(
        Math.abs(kept("ordinary") - ordinary * p) <= 4.5 * sd,
        `kept ${kept("ordinary")} of ${ordinary} ordinary traces`,
      );
      // Both pods took part: each received spans (their own metrics, on
      // the pod network).
      for (const ip of ips) {
        const text = await (await fetch(`http://${ip}:8888/metrics`)).text();
        const accepted = [
          ...text.matchAll(
            /^otelcol_receiver_accepted_spans(?:_total)?\{[^}]*\} (\S+)$/gm,
          ),
        ].reduce((sum, m) => sum + Number(m[1]), 0);
        assert.ok(accepted > 0, `sampler ${ip} received no span:\n${text}`);
      }
      const samplerLogs = await logsOf("sampler");
      assert.ok(
        !/\t(warn|error)\t/.test(samplerLogs),
        `a sampler logged a warning or error:\n${samplerLogs}`,
      );
      console.log(
        `tail sampling on the cluster: kept ${
          kept("ordinary")
        }/${ordinary} ordinary (${percentage}%), ${
          kept("error")
        }/${errors} error, ${kept("slow")}/${slow} slow traces`,
      );
      await chartHelm(helmExe, cluster, ns, "uninstall", ["--wait"]);
    } finally {
      await cluster.stop();
      await Promise.all(receivers.map((r) => r.close()));
      removePinRoot(pinRoot);
      await Deno.remove(values);
    }
  },
});

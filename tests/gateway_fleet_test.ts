/**
 * The chart's fleet policy (gateway.routing and gateway.sampling) run by a
 * real Collector (testing/collector, v0.160.0) with the configuration the
 * chart renders:
 *
 * - routing per tenant: each tenant's spans reach only its endpoint, with
 *   its X-Scope-OrgID, spans of no tenant the default endpoint; what a
 *   sender claims (k8s.namespace.name, the tenant label) steers nothing,
 *   whether it comes straight to the gateway or from a traced program
 *   through the agent, whose log records follow its spans;
 * - the tail-sampling tier: the gateway's load_balancing exporter in front
 *   of two sampling Collectors: the two halves of every trace (sent apart,
 *   as two agents would) are decided as one, every error and slow trace is
 *   kept, and the ratio of the others is the configured one.
 *
 * There is no API server here, so k8s_attributes runs in pass-through and a
 * stand-in takes its place for the namespace: a resource processor right
 * after it that inserts k8s.namespace.name from k8s.node.name (which the
 * agent sets from its configuration and the gateway keeps), never
 * overwriting, as k8s_attributes never does. A claim that survived the
 * agent and the gateway's resource/claims would therefore win and send the
 * span to the claimed tenant. tests/kubernetes/cluster_test.ts does the
 * same with the real k8s_attributes on a real cluster.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  delay,
  ebpfAvailable,
  removePinRoot,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import { buildCollector, CollectorProcess } from "../testing/collector.ts";
import {
  attributeMap,
  type CollectingReceiver,
  collectingReceiver,
  type Json,
  unusedPort,
} from "../testing/receiver.ts";
import { chartConfigs, configFile } from "../testing/chart.ts";
import { runHello, spansOf } from "../testing/hello.ts";

const tenantLabel = "spanbridge.io/tenant";
const labelKey = `k8s.pod.label.${tenantLabel}`;
const token = "s3cr3t-agents-only";

/** gateway.routing values with tenants team-a and team-b at these receivers. */
function routingValues(a: CollectingReceiver, b: CollectingReceiver): Json {
  return {
    tenantLabel,
    tenants: [
      {
        name: "team-a",
        namespaces: ["team-a"],
        labelValues: ["team-a"],
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
  };
}

/**
 * The stand-in for what k8s_attributes reads from the API server (see the
 * module doc), put right after k8s_attributes in every traces pipeline of
 * the rendered gateway-routing.yaml.
 */
function withApiServerStandIn(routing: Json): Json {
  const pipelines: Record<string, Json> = routing.service.pipelines;
  for (const p of Object.values(pipelines)) {
    const i = p.processors.indexOf("k8s_attributes");
    assert.ok(i >= 0, `a traces pipeline without k8s_attributes: ${p}`);
    p.processors.splice(i + 1, 0, "resource/api-server");
  }
  routing.processors["resource/api-server"] = {
    attributes: [{
      key: "k8s.namespace.name",
      from_attribute: "k8s.node.name",
      action: "insert",
    }],
  };
  return routing;
}

/** A gateway with the chart's auth and routing for tenants at `a` and `b`, the rest to `rest`. */
async function routedGateway(
  rest: CollectingReceiver,
  a: CollectingReceiver,
  b: CollectingReceiver,
): Promise<{ gateway: CollectorProcess; cleanup(): Promise<void> }> {
  await buildCollector();
  const configs = await chartConfigs({
    gateway: { routing: routingValues(a, b) },
  });
  const routing = await configFile(
    withApiServerStandIn(configs["spanbridge-gateway"]["gateway-routing.yaml"]),
  );
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, token);
  const gateway = CollectorProcess.gateway(
    unusedPort(),
    rest.endpoint,
    tokenFile,
    [routing.arg],
  );
  return {
    gateway,
    async cleanup() {
      await gateway.stop();
      await Deno.remove(routing.file);
      await Deno.remove(tokenFile);
    },
  };
}

/** OTLP/JSON spans of one resource. */
function resourceSpans(resource: Record<string, string>, spans: Json[]): Json {
  return {
    resource: {
      attributes: Object.entries(resource).map(([key, value]) => ({
        key,
        value: { stringValue: value },
      })),
    },
    scopeSpans: [{ scope: { name: "fleet-test" }, spans }],
  };
}

/** POSTs OTLP/JSON to the gateway with the agents' token; asserts 200. */
async function post(gateway: CollectorProcess, resourceSpans: Json[]) {
  const res = await fetch(`http://${gateway.listen}/v1/traces`, {
    method: "POST",
    headers: {
      "content-type": "application/json",
      authorization: `Bearer ${token}`,
    },
    body: JSON.stringify({ resourceSpans }),
  });
  assert.equal(res.status, 200, await res.text());
}

function hex(bytes: number): string {
  return Array.from(
    crypto.getRandomValues(new Uint8Array(bytes)),
    (b) => b.toString(16).padStart(2, "0"),
  ).join("");
}

/** One span, `ms` long, starting `startMs` after `t0Ns`. */
function span(
  traceId: string,
  name: string,
  t0Ns: bigint,
  startMs: number,
  ms: number,
  more: Json = {},
): Json {
  const start = t0Ns + BigInt(startMs) * 1_000_000n;
  return {
    traceId,
    spanId: hex(8),
    name,
    kind: 2,
    startTimeUnixNano: `${start}`,
    endTimeUnixNano: `${start + BigInt(ms) * 1_000_000n}`,
    ...more,
  };
}

/** The X-Scope-OrgID headers of a receiver's requests, distinct. */
function orgIds(r: CollectingReceiver): (string | null)[] {
  return [...new Set(r.requests.map((q) => q.headers.get("x-scope-orgid")))];
}

Deno.test("tenant routing: spans reach only their tenant's endpoint with its X-Scope-OrgID, whatever the sender claims", async () => {
  const [rest, a, b] = await Promise.all([
    collectingReceiver(),
    collectingReceiver(),
    collectingReceiver(),
  ]);
  const { gateway, cleanup } = await routedGateway(rest, a, b);
  try {
    await gateway.ready(30_000);
    const t0 = BigInt(Date.now()) * 1_000_000n;
    // Where each runs (k8s.node.name, which the stand-in turns into the
    // namespace) against what each claims: the claims must lose.
    await post(gateway, [
      resourceSpans({
        "service.name": "in-a",
        "k8s.node.name": "team-a",
        "k8s.namespace.name": "team-b",
        [labelKey]: "team-b",
      }, [span(hex(16), "a", t0, 0, 1)]),
      resourceSpans({
        "service.name": "in-b",
        "k8s.node.name": "team-b",
        "k8s.namespace.name": "team-a",
        [labelKey]: "team-a",
      }, [span(hex(16), "b", t0, 0, 1)]),
      resourceSpans({
        "service.name": "in-neither",
        "k8s.node.name": "elsewhere",
        "k8s.namespace.name": "team-a",
        [labelKey]: "team-a",
      }, [span(hex(16), "rest", t0, 0, 1)]),
    ]);
    await waitUntil(
      () => a.spans.length + b.spans.length + rest.spans.length >= 3,
      20_000,
      "three spans",
    ).catch((err) => {
      throw new Error(`${err.message}\n${gateway.dump()}`);
    });
    // Anything sent twice or to the wrong place would arrive meanwhile.
    await delay(1_000);
    const names = (r: CollectingReceiver) => r.spans.map((s) => s.span.name);
    assert.deepEqual(names(a), ["a"], "team-a's endpoint");
    assert.deepEqual(names(b), ["b"], "team-b's endpoint");
    assert.deepEqual(names(rest), ["rest"], "the default endpoint");
    assert.deepEqual(orgIds(a), ["team-a"]);
    assert.deepEqual(orgIds(b), ["team-b"]);
    assert.deepEqual(orgIds(rest), [null]);
    const ns = (r: CollectingReceiver) =>
      attributeMap(r.spans[0].resource).get("k8s.namespace.name")?.stringValue;
    assert.equal(ns(a), "team-a");
    assert.equal(ns(b), "team-b");
    assert.ok(
      !attributeMap(a.spans[0].resource).has(labelKey),
      "the claimed tenant label survived",
    );
    assert.ok(
      !gateway.log.some((l) => /\t(warn|error)\t/.test(l)),
      gateway.dump(),
    );
  } finally {
    await cleanup();
    await Promise.all([rest, a, b].map((r) => r.close()));
  }
});

Deno.test({
  name:
    "tenant routing: a traced program whose SDK claims tenant b's namespace and label reaches only its own tenant a",
  ignore: !ebpfAvailable("tenant routing e2e"),
  async fn() {
    const [rest, a, b] = await Promise.all([
      collectingReceiver(),
      collectingReceiver(),
      collectingReceiver(),
    ]);
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("fleet-routing");
    const { gateway, cleanup } = await routedGateway(rest, a, b);
    let controller: ControllerProcess | undefined;
    try {
      await gateway.ready(30_000);
      controller = new ControllerProcess(
        ["run", "--target", hello.exe, "--pin-root", pinRoot, "--no-status"],
        {
          OTEL_EXPORTER_OTLP_ENDPOINT: `http://${gateway.listen}`,
          OTEL_EXPORTER_OTLP_HEADERS: `Authorization=Bearer%20${token}`,
          OTEL_BSP_SCHEDULE_DELAY: "100",
          // The agent's node, which the stand-in turns into namespace team-a.
          K8S_NODE_NAME: "team-a",
        },
      );
      await controller.waitFor("attached");
      const run = await runHello(hello.exe, {
        rate: 50,
        durationMs: 2_000,
        env: {
          OTEL_BSP_SCHEDULE_DELAY: "100",
          OTEL_RESOURCE_ATTRIBUTES:
            `k8s.namespace.name=team-b,${labelKey}=team-b,k8s.node.name=team-b`,
        },
      });
      const want = spansOf(a.spans, [run]);
      assert.ok(run.requests > 0, "hello handled no request");
      await waitUntil(
        () => spansOf(a.spans, [run]) >= want && want > 0,
        20_000,
        "hello's spans at team-a",
      ).catch((err) => {
        throw new Error(
          `${err.message} (a ${a.spans.length}, b ${b.spans.length}, rest ${rest.spans.length})\n${controller?.dump()}\n${gateway.dump()}`,
        );
      });
      // Its log records (two a request) go the same way.
      await waitUntil(
        () => a.logRecords >= 2 * run.requests,
        20_000,
        `hello's ${2 * run.requests} log records at team-a`,
      ).catch((err) => {
        throw new Error(
          `${err.message} (a ${a.logRecords}, b ${b.logRecords}, rest ${rest.logRecords})\n${controller?.dump()}\n${gateway.dump()}`,
        );
      });
      await stopIfRunning(controller);
      await delay(1_000);
      assert.equal(b.spans.length, 0, "spans reached the claimed tenant b");
      assert.equal(rest.spans.length, 0, "spans reached the default endpoint");
      assert.equal(a.logRecords, 2 * run.requests, "log records at team-a");
      assert.equal(b.logRecords, 0, "log records reached the claimed tenant b");
      assert.equal(
        rest.logRecords,
        0,
        "log records reached the default endpoint",
      );
      assert.deepEqual(orgIds(a), ["team-a"]);
      for (const s of a.spans) {
        const attrs = attributeMap(s.resource);
        assert.equal(attrs.get("k8s.namespace.name")?.stringValue, "team-a");
        assert.equal(attrs.get("k8s.node.name")?.stringValue, "team-a");
        assert.ok(!attrs.has(labelKey), "the claimed label survived");
      }
    } finally {
      if (controller) await stopIfRunning(controller);
      await cleanup();
      await Promise.all([rest, a, b].map((r) => r.close()));
      await removePinRoot(pinRoot);
      await hello.remove();
    }
  },
});

Deno.test("the tail-sampling tier decides each trace as one across two samplers: every error and slow trace kept, the configured share of the others", async () => {
  await buildCollector();
  const percentage = 25;
  const [out1, out2] = await Promise.all([
    collectingReceiver(),
    collectingReceiver(),
  ]);
  const configs = await chartConfigs({
    gateway: {
      exportEndpoint: "http://127.0.0.1:1",
      sampling: {
        enabled: true,
        keepErrors: true,
        latencyThresholdMs: 1000,
        percentage,
        // Each trace's two halves come in two requests, and a sampler
        // decides a trace on what it holds one tick (1 s) short of
        // decision_wait after its first span at the earliest: the wait
        // leaves the second half room on a busy machine.
        decisionWait: "6s",
        // Its metrics would take a fixed port on this machine.
        telemetryLevel: "none",
      },
    },
  });
  const tokenFile = await Deno.makeTempFile();
  await Deno.writeTextFile(tokenFile, token);
  // The two sampling pods, each exporting to a receiver of its own so that
  // a trace split between them would show.
  const samplerPorts = [unusedPort(), unusedPort()];
  const samplerConfig = await configFile(
    configs["spanbridge-sampler"]["sampler.yaml"],
  );
  const samplers = [out1, out2].map((out, i) =>
    new CollectorProcess(`127.0.0.1:${samplerPorts[i]}`, [
      samplerConfig.arg,
      `--config=yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:${
        samplerPorts[i]
      }`,
      `--config=yaml:extensions::health_check::endpoint: 127.0.0.1:${unusedPort()}`,
      `--config=yaml:extensions::bearertokenauth::filename: ${tokenFile}`,
      `--config=yaml:exporters::otlp_http::endpoint: ${out.endpoint}`,
    ], {})
  );
  // The gateway's load_balancing exporter with a static resolver in place
  // of the k8s one (no API server here).
  const routing = configs["spanbridge-gateway"]["gateway-routing.yaml"];
  const lb = routing.exporters.load_balancing;
  assert.equal(lb.routing_key, "traceID");
  lb.resolver = {
    static: { hostnames: samplerPorts.map((p) => `127.0.0.1:${p}`) },
  };
  const routingFile = await configFile(routing);
  const rest = await collectingReceiver();
  let gateway: CollectorProcess | undefined;
  try {
    // The samplers listen before the gateway starts, as the k8s resolver
    // lists only ready pods: a first dial refused held the requests sent
    // meanwhile back for the exporter's retry interval (5 s), and a trace's
    // second half reached its sampler after the decision (seen in CI).
    await Promise.all(samplers.map((c) => c.ready(30_000)));
    const gw = gateway = CollectorProcess.gateway(
      unusedPort(),
      rest.endpoint,
      tokenFile,
      [routingFile.arg],
    );
    await gw.ready(30_000);
    const t0 = BigInt(Date.now()) * 1_000_000n;
    const ordinary = 800, errors = 40, slow = 40;
    const kinds = new Map<string, "ordinary" | "error" | "slow">();
    const front: Json[] = [], back: Json[] = [];
    for (let i = 0; i < ordinary + errors + slow; i++) {
      const kind = i < ordinary
        ? "ordinary"
        : i < ordinary + errors
        ? "error"
        : "slow";
      const traceId = hex(16);
      kinds.set(traceId, kind);
      const root = span(traceId, "GET /", t0, 0, kind === "slow" ? 2_000 : 10);
      front.push(root);
      back.push(span(traceId, "SELECT", t0, 2, 5, {
        parentSpanId: root.spanId,
        ...(kind === "error" && { status: { code: 2, message: "boom" } }),
      }));
    }
    // The two halves of every trace come from two programs on two nodes,
    // in separate requests, as two agents send them.
    await post(gw, [resourceSpans({ "service.name": "edge" }, front)]);
    await post(gw, [resourceSpans({ "service.name": "orders" }, back)]);
    // decision_wait is 6 s; then nothing more may come.
    let seen = -1;
    await waitUntil(
      async () => {
        const now = out1.spans.length + out2.spans.length;
        if (now === seen && now > 0) return true;
        seen = now;
        await delay(2_000);
        return false;
      },
      40_000,
      "the samplers' decisions",
    );
    assert.equal(rest.spans.length, 0, "the gateway exported traces itself");
    const at = new Map<string, Set<number>>();
    const spans = new Map<string, number>();
    [out1, out2].forEach((out, i) => {
      for (const s of out.spans) {
        const id = s.span.traceId;
        at.set(id, (at.get(id) ?? new Set()).add(i));
        spans.set(id, (spans.get(id) ?? 0) + 1);
      }
    });
    for (const [id, where] of at) {
      assert.equal(where.size, 1, `trace ${id} was decided on both samplers`);
      assert.equal(spans.get(id), 2, `trace ${id} kept in part`);
      assert.ok(kinds.has(id), `unknown trace ${id}`);
    }
    const kept = (kind: string) =>
      [...kinds].filter(([id, k]) => k === kind && at.has(id)).length;
    const logs = () => [gw, ...samplers].map((c) => c.dump()).join("\n");
    assert.equal(kept("error"), errors, `error traces kept\n${logs()}`);
    assert.equal(kept("slow"), slow, `slow traces kept\n${logs()}`);
    // Binomial(800, 0.25): mean 200, standard deviation 12.2; 4.5 of them
    // either side (a false alarm about once in 150000 runs).
    const p = percentage / 100;
    const sd = Math.sqrt(ordinary * p * (1 - p));
    const ratio = kept("ordinary");
    assert.ok(
      Math.abs(ratio - ordinary * p) <= 4.5 * sd,
      `kept ${ratio} of ${ordinary} ordinary traces, want ${ordinary * p} ± ${
        (4.5 * sd).toFixed(0)
      }`,
    );
    assert.ok(
      out1.spans.length > 0 && out2.spans.length > 0,
      `one sampler decided everything (${out1.spans.length}, ${out2.spans.length})`,
    );
    console.log(
      `kept ${ratio}/${ordinary} ordinary (${percentage}%), ${
        kept("error")
      }/${errors} error, ${
        kept("slow")
      }/${slow} slow traces; samplers held ${out1.spans.length} and ${out2.spans.length} spans`,
    );
  } finally {
    await gateway?.stop();
    await Promise.all(samplers.map((s) => s.stop()));
    await Promise.all([out1, out2, rest].map((r) => r.close()));
    await Deno.remove(tokenFile);
    await Deno.remove(samplerConfig.file);
    await Deno.remove(routingFile.file);
  }
});

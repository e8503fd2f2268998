/**
 * Measures what one span costs the gateway Collector (files/gateway.yaml in
 * testing/collector's build, k8sattributes in pass-through: no API lookups)
 * on this machine: CPU per span for receive + batch + OTLP/HTTP export, and
 * its peak RSS. It posts `--requests` OTLP/HTTP protobuf requests of
 * `--spans` realistic spans each (testing/traces.ts), 4 at a time, to
 * the gateway on loopback, which forwards to a receiver in this process that
 * counts spans. For the "Scale-out on paper" section of BENCHMARKS.md.
 *
 * `--fleet routing` adds the chart's tenant routing (gateway.routing with
 * two tenants: a pipeline each on the shared receiver, plus the unrouted
 * one), every span routed to the first tenant by a stand-in for the
 * namespace k8sattributes would add. `--fleet sampling` adds the chart's
 * tail-sampling tier (gateway.sampling with its defaults): the gateway's
 * load_balancing exporter by trace id (a static resolver in place of the
 * k8s one) to two sampling Collectors with the rendered sampler.yaml;
 * requests then carry fresh trace ids of 8 spans each, and the samplers'
 * CPU and peak RSS are reported too.
 *
 * ```sh
 * deno run -A bench/gateway.ts --requests 800 --spans 512 [--compression none] [--fleet routing|sampling]
 * ```
 *
 * @module
 */
import { parseArgs } from "node:util";
import { fromBinary } from "@bufbuild/protobuf";
import { ExportTraceServiceRequestSchema } from "../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { realisticTraces, sampleBatch } from "../testing/traces.ts";
import { buildCollector, CollectorProcess } from "../testing/collector.ts";
import { root, waitUntil } from "../testing/harness.ts";
import { unusedPort } from "../testing/receiver.ts";
import { chartConfigs, configFile } from "../testing/chart.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "400" },
    spans: { type: "string", default: "512" },
    // The exporter's compression: gzip (the Collector's default) or none.
    compression: { type: "string", default: "gzip" },
    // none, routing or sampling (see the module doc).
    fleet: { type: "string", default: "none" },
  },
});
const fleet = values.fleet;
if (!["none", "routing", "sampling"].includes(fleet!)) {
  throw new Error(`--fleet ${fleet}: want none, routing or sampling`);
}
const requests = Number(values.requests);
const perRequest = Number(values.spans);

let received = 0;
const receiver = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  async (req) => {
    // The Collector's exporter compresses with gzip by default.
    const stream = req.headers.get("content-encoding") === "gzip"
      ? req.body!.pipeThrough(new DecompressionStream("gzip"))
      : req.body!;
    const body = fromBinary(
      ExportTraceServiceRequestSchema,
      new Uint8Array(await new Response(stream).arrayBuffer()),
    );
    for (const rs of body.resourceSpans) {
      for (const ss of rs.scopeSpans) received += ss.spans.length;
    }
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  },
);

await buildCollector();
const forward = `http://127.0.0.1:${receiver.addr.port}`;
const compression = `compression: ${values.compression}`;
const extra: string[] = [];
const files: string[] = [];
const samplers: CollectorProcess[] = [];
if (fleet === "routing") {
  const tenant = (name: string) => ({
    name,
    namespaces: [name],
    endpoint: forward,
    headers: { "X-Scope-OrgID": name },
  });
  const configs = await chartConfigs({
    gateway: { routing: { tenants: [tenant("team-a"), tenant("team-b")] } },
  });
  const routing = configs["spanbridge-gateway"]["gateway-routing.yaml"];
  for (const name of Object.keys(routing.exporters)) {
    routing.exporters[name].compression = values.compression;
  }
  // What k8sattributes would add for pods of namespace team-a.
  routing.processors["resource/api-server"] = {
    attributes: [{
      key: "k8s.namespace.name",
      value: "team-a",
      action: "insert",
    }],
  };
  for (
    const p of Object.values(routing.service.pipelines) as {
      processors: string[];
    }[]
  ) {
    p.processors.splice(
      p.processors.indexOf("k8s_attributes") + 1,
      0,
      "resource/api-server",
    );
  }
  const file = await configFile(routing);
  files.push(file.file);
  extra.push(file.arg);
} else if (fleet === "sampling") {
  const configs = await chartConfigs({
    gateway: {
      exportEndpoint: forward,
      sampling: { enabled: true, telemetryLevel: "none" },
    },
  }, ["gateway.auth.enabled=false"]);
  const ports = [unusedPort(), unusedPort()];
  const sampler = await configFile(
    configs["spanbridge-sampler"]["sampler.yaml"],
  );
  files.push(sampler.file);
  for (const port of ports) {
    samplers.push(
      new CollectorProcess(`127.0.0.1:${port}`, [
        sampler.arg,
        `--config=yaml:receivers::otlp::protocols::grpc::endpoint: 127.0.0.1:${port}`,
        `--config=yaml:extensions::health_check::endpoint: 127.0.0.1:${unusedPort()}`,
        `--config=yaml:exporters::otlp_http::${compression}`,
      ], {}),
    );
  }
  const routing = configs["spanbridge-gateway"]["gateway-routing.yaml"];
  routing.exporters.load_balancing.resolver = {
    static: { hostnames: ports.map((p) => `127.0.0.1:${p}`) },
  };
  routing.exporters.load_balancing.protocol.otlp.compression =
    values.compression;
  const file = await configFile(routing);
  files.push(file.file);
  extra.push(file.arg);
}
const listen = `127.0.0.1:${unusedPort()}`;
const gateway = new CollectorProcess(listen, [
  `--config=file:${root}deploy/kubernetes/spanbridge/files/gateway.yaml`,
  "--config=yaml:processors::k8s_attributes::passthrough: true",
  `--config=yaml:exporters::otlp_http::${compression}`,
  // As the chart runs it: one k8s_attributes for every pipeline.
  "--feature-gates=processor.k8sattributes.ShareProcessorBetweenPipelines",
  ...extra,
], {
  GATEWAY_OTLP_HTTP_ENDPOINT: listen,
  GATEWAY_OTLP_GRPC_ENDPOINT: `127.0.0.1:${unusedPort()}`,
  // Off the node's interfaces and the default port, like the tests' gateways.
  GATEWAY_HEALTH_ENDPOINT: `127.0.0.1:${unusedPort()}`,
  GATEWAY_EXPORT_ENDPOINT: forward,
  GATEWAY_TELEMETRY_LEVEL: "none",
});
await Promise.all([gateway, ...samplers].map((c) => c.ready(30_000)));

// A copy in its own ArrayBuffer: what fetch takes as a body.
const body = new Uint8Array(
  sampleBatch(realisticTraces(perRequest)).toBinary(),
);
/** The same spans in traces of 8 with fresh ids: what tail sampling needs to see. */
const freshTraces = () => {
  const traces = realisticTraces(perRequest);
  let traceId = new Uint8Array(16);
  traces.resourceSpans[0].scopeSpans[0].spans.forEach((span, i) => {
    if (i % 8 === 0) traceId = crypto.getRandomValues(new Uint8Array(16));
    span.traceId = traceId;
  });
  return new Uint8Array(sampleBatch(traces).toBinary());
};
const post = async () => {
  const res = await fetch(`http://${listen}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf" },
    body: fleet === "sampling" ? freshTraces() : body,
  });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`gateway answered ${res.status}`);
};
const send = async (n: number) => {
  let next = 0;
  await Promise.all([0, 1, 2, 3].map(async () => {
    while (next++ < n) await post();
  }));
};

/** utime + stime of `pid` in seconds (clock ticks of 1/100 s). */
const cpuSeconds = (pid: number) => {
  const fields = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1]
    .split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
};

/** All spans sent arrived, or with sampling: nothing more came for 3 s after decision_wait (10 s). */
const arrived = async (sent: number, what: string) => {
  if (fleet !== "sampling") {
    return waitUntil(() => received >= sent, 120_000, what);
  }
  await new Promise((r) => setTimeout(r, 10_000));
  let seen = -1;
  await waitUntil(
    async () => {
      if (received === seen) return true;
      seen = received;
      await new Promise((r) => setTimeout(r, 3_000));
      return false;
    },
    120_000,
    what,
  );
};
const warmUp = Math.max(1, requests / 10);
await send(warmUp);
await arrived(warmUp * perRequest, "warm-up spans");
received = 0;
const tier = samplers.map((s) => s.child.pid);
const cpu0 = cpuSeconds(gateway.child.pid);
const tierCpu0 = tier.map(cpuSeconds);
const t0 = performance.now();
await send(requests);
const sentIn = (performance.now() - t0) / 1000;
await arrived(requests * perRequest, "all spans");
const seconds = fleet === "sampling" ? sentIn : (performance.now() - t0) / 1000;
const cpu = cpuSeconds(gateway.child.pid) - cpu0;
const tierCpu = tier.reduce(
  (sum, pid, i) => sum + cpuSeconds(pid) - tierCpu0[i],
  0,
);
const peakMiB = (pid: number) =>
  Math.round(
    Number(
      /VmHWM:\s+(\d+) kB/.exec(Deno.readTextFileSync(`/proc/${pid}/status`))
        ?.[1],
    ) / 1024,
  );
const hwm = peakMiB(gateway.child.pid);
const tierHwm = tier.map(peakMiB);
const spans = requests * perRequest;
await Promise.all([gateway, ...samplers].map((c) => c.stop()));
await receiver.shutdown();
await Promise.all(files.map((f) => Deno.remove(f)));
console.log(JSON.stringify({
  spans,
  fleet,
  compression: values.compression,
  bytes_per_span: Math.round(body.length / perRequest),
  seconds: Number(seconds.toFixed(2)),
  spans_per_s: Math.round(spans / seconds),
  gateway_cpu_s: cpu,
  gateway_cpu_us_per_span: Number((cpu / spans * 1e6).toFixed(2)),
  gateway_rss_mib_peak: hwm,
  ...(fleet === "sampling" && {
    exported_spans: received,
    tier_cpu_s: tierCpu,
    tier_cpu_us_per_span: Number((tierCpu / spans * 1e6).toFixed(2)),
    tier_rss_mib_peak: tierHwm,
  }),
  loadavg: Deno.loadavg(),
}));

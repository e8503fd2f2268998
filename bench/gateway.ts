/**
 * Measures what one span costs the gateway Collector (files/gateway.yaml in
 * testing/collector's build, k8sattributes in pass-through: no API lookups)
 * on this machine: CPU per span for receive + batch + OTLP/HTTP export, and
 * its peak RSS. It posts `--requests` OTLP/HTTP protobuf requests of
 * `--spans` realistic spans each (testing/traces.ts), 4 at a time, to
 * the gateway on loopback, which forwards to a receiver in this process that
 * counts spans. For the "Scale-out on paper" section of BENCHMARKS.md.
 *
 * ```sh
 * deno run -A bench/gateway.ts --requests 800 --spans 512 [--compression none]
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

const { values } = parseArgs({
  args: Deno.args,
  options: {
    requests: { type: "string", default: "400" },
    spans: { type: "string", default: "512" },
    // The exporter's compression: gzip (the Collector's default) or none.
    compression: { type: "string", default: "gzip" },
  },
});
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
const listen = `127.0.0.1:${unusedPort()}`;
const gateway = new CollectorProcess(listen, [
  `--config=file:${root}deploy/kubernetes/spanbridge/files/gateway.yaml`,
  "--config=yaml:processors::k8s_attributes::passthrough: true",
  `--config=yaml:exporters::otlp_http::compression: ${values.compression}`,
], {
  GATEWAY_OTLP_HTTP_ENDPOINT: listen,
  GATEWAY_OTLP_GRPC_ENDPOINT: `127.0.0.1:${unusedPort()}`,
  // Off the node's interfaces and the default port, like the tests' gateways.
  GATEWAY_HEALTH_ENDPOINT: `127.0.0.1:${unusedPort()}`,
  GATEWAY_EXPORT_ENDPOINT: `http://127.0.0.1:${receiver.addr.port}`,
  GATEWAY_TELEMETRY_LEVEL: "none",
});
await gateway.ready(30_000);

// A copy in its own ArrayBuffer: what fetch takes as a body.
const body = new Uint8Array(
  sampleBatch(realisticTraces(perRequest)).toBinary(),
);
const post = async () => {
  const res = await fetch(`http://${listen}/v1/traces`, {
    method: "POST",
    headers: { "content-type": "application/x-protobuf" },
    body,
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

await send(Math.max(1, requests / 10)); // warm-up
await waitUntil(
  () => received >= Math.max(1, requests / 10) * perRequest,
  60_000,
  "warm-up spans",
);
received = 0;
const cpu0 = cpuSeconds(gateway.child.pid);
const t0 = performance.now();
await send(requests);
await waitUntil(() => received >= requests * perRequest, 120_000, "all spans");
const seconds = (performance.now() - t0) / 1000;
const cpu = cpuSeconds(gateway.child.pid) - cpu0;
const hwm = /VmHWM:\s+(\d+) kB/.exec(
  Deno.readTextFileSync(`/proc/${gateway.child.pid}/status`),
)?.[1];
const spans = requests * perRequest;
await gateway.stop();
await receiver.shutdown();
console.log(JSON.stringify({
  spans,
  compression: values.compression,
  bytes_per_span: Math.round(body.length / perRequest),
  seconds: Number(seconds.toFixed(2)),
  spans_per_s: Math.round(spans / seconds),
  gateway_cpu_s: cpu,
  gateway_cpu_us_per_span: Number((cpu / spans * 1e6).toFixed(2)),
  gateway_rss_mib_peak: Math.round(Number(hwm) / 1024),
  loadavg: Deno.loadavg(),
}));

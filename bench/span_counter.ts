/**
 * A loopback OTLP/HTTP receiver that counts spans per process: the project's
 * own trace handler (src/receive) decodes each request and the spans are
 * counted under their resource's `process.pid`, so a benchmark can check
 * that every span of every process arrived.
 *
 * @module
 */
import { createTraceHandler } from "../src/receive/mod.ts";
import type { TracesData } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";

/** A running counting receiver. */
export interface SpanCounter {
  /** The traces endpoint, e.g. http://127.0.0.1:40123/v1/traces. */
  url: string;
  /** Spans received so far, by the resource's process.pid (0: none). */
  byPid: Map<number, number>;
  /** Spans received so far in all. */
  total(): number;
  /** Stops listening. */
  close(): Promise<void>;
}

function pidOf(resource: TracesData["resourceSpans"][number]["resource"]) {
  for (const kv of resource?.attributes ?? []) {
    if (kv.key !== "process.pid") continue;
    const v = kv.value?.value;
    if (v?.case === "intValue") return Number(v.value);
    if (v?.case === "stringValue") return Number(v.value);
  }
  return 0;
}

/** Starts a counting receiver on a free loopback port. */
export function startSpanCounter(): Promise<SpanCounter> {
  const byPid = new Map<number, number>();
  let total = 0;
  const handler = createTraceHandler({
    onTraces: (traces: TracesData) => {
      for (const rs of traces.resourceSpans) {
        const pid = pidOf(rs.resource);
        let n = 0;
        for (const ss of rs.scopeSpans) n += ss.spans.length;
        byPid.set(pid, (byPid.get(pid) ?? 0) + n);
        total += n;
      }
    },
  });
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}/v1/traces`,
          byPid,
          total: () => total,
          close: () => server.shutdown(),
        }),
    }, (request) => handler.handle(request));
  });
}

/**
 * The hello example as a test workload: run it for a while, learn how many
 * requests it handled, and check that every one of its traces arrived whole
 * (a server span, cache.get, SELECT orders, and render unless it failed).
 *
 * @module
 */
import assert from "node:assert/strict";
import { attributeMap, type ReceivedSpan } from "./receiver.ts";

/** One finished run of hello. */
export interface HelloRun {
  /** Its process id (the process.pid of its spans' resource). */
  pid: number;
  /** Requests it handled: one trace each. */
  requests: number;
  /** Wall-clock run time in milliseconds. */
  ms: number;
}

/** Options of {@linkcode runHello}. */
export interface HelloOptions {
  /** Traces per second. */
  rate: number;
  /** How long it makes traces, in milliseconds. */
  durationMs: number;
  /** Extra environment (the SDK reads OTEL_BSP_*). */
  env?: Record<string, string>;
  /** How long it waits for the probe before it starts; default 10 s. */
  waitAttachMs?: number;
  /** Arguments after the flags, which hello ignores (a long command line). */
  args?: string[];
  /** A command that executes hello with its arguments, e.g. `["/bin/sh", "-c", 'exec "$0" "$@"']`. */
  wrap?: string[];
}

/**
 * Runs hello at `exe` to completion (it waits up to 10 s for the probe,
 * makes traces, flushes with sdk.Shutdown and exits).
 */
export function runHello(
  exe: string,
  options: HelloOptions,
): Promise<HelloRun> {
  return startHello(exe, options).done;
}

/** Starts hello at `exe`; `done` resolves when it exited (see {@linkcode runHello}). */
export function startHello(
  exe: string,
  options: HelloOptions,
): { pid: number; done: Promise<HelloRun> } {
  const started = performance.now();
  const [command, ...wrapArgs] = options.wrap ?? [];
  const child = new Deno.Command(command ?? exe, {
    args: [
      ...(command ? [...wrapArgs, exe] : []),
      "-rate",
      `${options.rate}`,
      "-duration",
      `${options.durationMs}ms`,
      "-wait-attach",
      `${options.waitAttachMs ?? 10_000}ms`,
      ...(options.args ?? []),
    ],
    env: options.env,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const done = child.output().then(({ code, stdout, stderr }) => {
    const ms = performance.now() - started;
    const out = new TextDecoder().decode(stdout);
    const err = new TextDecoder().decode(stderr);
    assert.equal(code, 0, `hello exited with ${code}: ${err}`);
    assert.match(err, /probe attached: true/, "hello ran without the probe");
    const requests = Number(/handled (\d+) requests/.exec(out)?.[1]);
    assert.ok(requests >= 0, `hello printed no request count: ${out}`);
    return { pid: child.pid, requests, ms };
  });
  // A caller that fails before awaiting `done` must not also crash the
  // test with an unhandled rejection; awaiting it still throws.
  done.catch(() => {});
  return { pid: child.pid, done };
}

/** Spans a complete trace of one hello request has: 4, or 3 when it failed (no render). */
function expectedSpans(root: ReceivedSpan): number {
  const status = attributeMap(root.span).get("http.response.status_code");
  return status?.intValue === "500" ? 3 : 4;
}

/** How many hello traces of `received` arrived whole (every span, once). */
export function wholeHelloTraces(received: ReceivedSpan[]): number {
  const byTrace = Map.groupBy(received, (r) => r.span.traceId);
  let whole = 0;
  for (const spans of byTrace.values()) {
    const roots = spans.filter((s) => !s.span.parentSpanId);
    const ids = new Set(spans.map((s) => s.span.spanId));
    if (
      roots.length === 1 && ids.size === spans.length &&
      spans.length === expectedSpans(roots[0])
    ) whole++;
  }
  return whole;
}

/**
 * Asserts that the spans of `runs` arrived exactly: per process one trace
 * per request, each trace whole, no span twice. Spans of other processes
 * are ignored. Returns how many spans the runs made.
 */
export function assertHelloRunsArrived(
  received: ReceivedSpan[],
  runs: HelloRun[],
): number {
  const pids = new Set(runs.map((r) => r.pid));
  const byTrace = new Map<string, ReceivedSpan[]>();
  const seen = new Set<string>();
  for (const r of received) {
    const pid = Number(attributeMap(r.resource).get("process.pid")?.intValue);
    if (!pids.has(pid)) continue;
    assert.ok(!seen.has(r.span.spanId), `span ${r.span.spanId} arrived twice`);
    seen.add(r.span.spanId);
    const trace = byTrace.get(r.span.traceId) ?? [];
    trace.push(r);
    byTrace.set(r.span.traceId, trace);
  }
  const rootsByPid = new Map<number, number>();
  let total = 0;
  for (const [traceId, spans] of byTrace) {
    const roots = spans.filter((s) => !s.span.parentSpanId);
    assert.equal(roots.length, 1, `trace ${traceId}: ${roots.length} roots`);
    const want = expectedSpans(roots[0]);
    assert.equal(spans.length, want, `trace ${traceId} is incomplete`);
    const pid = Number(
      attributeMap(roots[0].resource).get("process.pid")?.intValue,
    );
    rootsByPid.set(pid, (rootsByPid.get(pid) ?? 0) + 1);
    total += want;
  }
  for (const run of runs) {
    assert.equal(
      rootsByPid.get(run.pid) ?? 0,
      run.requests,
      `process ${run.pid}: traces that arrived vs requests it handled`,
    );
  }
  return total;
}

/** Spans of `received` that came from the processes of `runs`. */
export function spansOf(received: ReceivedSpan[], runs: HelloRun[]): number {
  const pids = new Set(runs.map((r) => r.pid));
  return received.filter((r) =>
    pids.has(Number(attributeMap(r.resource).get("process.pid")?.intValue))
  ).length;
}

/** True when {@linkcode assertHelloRunsArrived} passes (to wait on). */
export function helloRunsArrived(
  received: ReceivedSpan[],
  runs: HelloRun[],
): boolean {
  try {
    assertHelloRunsArrived(received, runs);
    return true;
  } catch {
    return false;
  }
}

/** Runs `count` short hello processes, `concurrency` at a time. */
export async function runHelloMany(
  exe: string,
  count: number,
  concurrency: number,
  options: HelloOptions,
): Promise<HelloRun[]> {
  const runs: HelloRun[] = [];
  let next = 0;
  const worker = async () => {
    while (next < count) {
      next++;
      runs.push(await runHello(exe, options));
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return runs;
}

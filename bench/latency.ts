/**
 * End-to-end latency: from a span's End in the load program to its arrival
 * at an OTLP receiver, at a moderate rate. The receiver here decodes
 * (src/receive) and compares its wall clock on arrival with each span's
 * end time; both sides read the same system clock.
 *
 * @module
 */
import { startReceiver } from "../src/receive/mod.ts";
import { runApp } from "./app.ts";
import { startController } from "./controller.ts";

/** Options of {@linkcode benchLatency}. */
export interface LatencyOptions {
  /** The load program. */
  exe: string;
  /** 3 s instead of 20 s. */
  quick: boolean;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** Prints progress. */
  log: (line: string) => void;
}

/** Spans per second of the latency run. */
export const latencyRate = 2000;

/**
 * The longest wait before a partial batch is handed on, in ms, for both the
 * SDK and the controller's export queue (OTEL_BSP_SCHEDULE_DELAY; the
 * defaults are 5000 in the SDK, as in OpenTelemetry, and 200 in the
 * controller).
 */
export const scheduleDelayMs = 100;

/**
 * Runs the load program at {@linkcode latencyRate} spans/s and measures when
 * each span arrives. Keys: `latency_ms_p50`, `latency_ms_p99`,
 * `latency_ms_max`, `latency_spans`.
 */
export async function benchLatency(
  opts: LatencyOptions,
): Promise<Record<string, number>> {
  const latencies: number[] = [];
  const receiver = await startReceiver({
    port: 0,
    onTraces: (traces) => {
      const now = performance.timeOrigin + performance.now();
      for (const rs of traces.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            latencies.push(now - Number(span.endTimeUnixNano / 1000n) / 1000);
          }
        }
      }
    },
  });
  const env = { OTEL_BSP_SCHEDULE_DELAY: String(scheduleDelayMs) };
  try {
    const ctl = await startController({
      exe: opts.exe,
      pinRoot: opts.pinRoot,
      instance: "latency",
      endpoint: receiver.url,
      env,
    });
    let app;
    try {
      app = await runApp(opts.exe, [
        "-mode=rate",
        "-attach=probe",
        `-rate=${latencyRate}`,
        "-goroutines=1",
        `-duration=${opts.quick ? 3 : 20}s`,
      ], env);
    } catch (err) {
      await ctl.stop().catch(() => {});
      throw err;
    }
    await ctl.stop();
    const sent = Number(app.spans);
    if (latencies.length !== sent) {
      opts.log(
        `  the receiver got ${latencies.length} of ${sent} spans; percentiles are over those that arrived`,
      );
    }
  } finally {
    await receiver.close();
  }
  if (latencies.length === 0) {
    throw new Error("Cannot measure latency: no span reached the receiver.");
  }
  latencies.sort((a, b) => a - b);
  const at = (q: number) =>
    latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  return {
    latency_ms_p50: at(0.5),
    latency_ms_p99: at(0.99),
    latency_ms_max: latencies[latencies.length - 1],
    latency_spans: latencies.length,
  };
}

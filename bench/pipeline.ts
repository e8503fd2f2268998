/**
 * Pipeline throughput: the highest span rate the whole path (load program →
 * kernel → controller child → discarding OTLP receiver) carries without
 * loss, stepping the rate up; then what happens at twice that rate. Also the
 * controller's CPU seconds per 100k spans and its peak RSS.
 *
 * @module
 */
import { runApp } from "./app.ts";
import { startController, type StoppedCounters } from "./controller.ts";
import { cpuSeconds, memory } from "./proc_stats.ts";
import type { DiscardReceiver } from "../testing/discard_receiver.ts";

/** Options of {@linkcode benchPipeline}. */
export interface PipelineOptions {
  /** The load program. */
  exe: string;
  /** Steps of 2 s instead of 30 s. */
  quick: boolean;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** The discarding receiver the controller exports to. */
  receiver: DiscardReceiver;
  /** Prints progress. */
  log: (line: string) => void;
}

/** Offered rates, spans/s. */
const rates = [
  50_000,
  100_000,
  150_000,
  175_000,
  200_000,
  250_000,
  300_000,
  400_000,
  500_000,
  600_000,
  800_000,
  1_000_000,
];

/** Goroutines making spans. */
const goroutines = 2;

/** Seconds the controller gets after the load program exits, before it is stopped. */
const settleMs = 1000;

/** One step at one rate. */
interface Step {
  /** The rate offered, spans/s. */
  rate: number;
  /** Spans the load program made. */
  sent: number;
  /** The rate it reached, spans/s. */
  achieved: number;
  /** The controller's final counters; undefined when it failed. */
  counters?: StoppedCounters;
  /** The controller's CPU seconds from attach until it was told to stop. */
  cpuSeconds: number;
  /** Its peak RSS so far, MiB. */
  peakMiB: number;
  /** Body bytes the receiver got. */
  receiverBytes: number;
  /** CPU seconds of this process (the receiver, otherwise idle) during the step. */
  receiverCpuSeconds: number;
}

/** True when every span made it through and nothing was lost or dropped. */
function lossless(s: Step): boolean {
  const c = s.counters;
  return c !== undefined && c.received === s.sent &&
    c.exported === c.received && c.dropped === 0 && c.recordsLost === 0 &&
    c.recordsCorrupt === 0;
}

/**
 * Steps the rate up until a step loses spans or the load program cannot
 * reach the rate, then runs once at twice the best lossless rate. Keys:
 * `pipeline_max_spans_per_s` (the best lossless rate offered, or made when
 * the load program fell more than 1% short of it),
 * `pipeline_max_spans_per_s_made` (what the load program made of it),
 * `pipeline_loss_ratio_at_<k>k` per step,
 * `pipeline_overload_rate`, `pipeline_overload_loss_ratio` (1 - exported /
 * sent), `pipeline_overload_records_lost`, `pipeline_overload_dropped` and
 * its reasons (`pipeline_overload_dropped_<reason>`),
 * `pipeline_overload_controller_failed`, `pipeline_receiver_bytes_per_span`,
 * `pipeline_receiver_cpu_cores`, `controller_cpu_s_per_100k_spans` and
 * `controller_cpu_cores` (at the best lossless rate), `controller_rss_mib_peak` (over all steps).
 */
export async function benchPipeline(
  opts: PipelineOptions,
): Promise<Record<string, number>> {
  const seconds = opts.quick ? 2 : 30;
  const out: Record<string, number> = {};
  let best: Step | undefined;
  let peakMiB = 0;
  for (const rate of rates) {
    const step = await runStep(rate, seconds, opts);
    peakMiB = Math.max(peakMiB, step.peakMiB);
    const ok = lossless(step);
    out[`pipeline_loss_ratio_at_${rate / 1000}k`] = lossRatio(step);
    opts.log(`  ${describe(rate, step)}${ok ? "" : " (loss)"}`);
    if (!ok) break;
    best = step;
    if (step.achieved < 0.95 * rate) {
      opts.log(
        `  the load program reached only ${
          Math.round(step.achieved)
        } spans/s: the machine is saturated`,
      );
      break;
    }
  }
  // A step the load program could not drive to its rate counts at the rate it made.
  out.pipeline_max_spans_per_s = best
    ? (best.achieved >= 0.99 * best.rate ? best.rate : best.achieved)
    : 0;
  out.pipeline_max_spans_per_s_made = best?.achieved ?? 0;
  if (best?.counters) {
    out.controller_cpu_s_per_100k_spans = best.cpuSeconds /
      best.counters.received * 100_000;
    out.controller_cpu_cores = best.cpuSeconds / seconds;
    out.pipeline_receiver_bytes_per_span = best.receiverBytes / best.sent;
    out.pipeline_receiver_cpu_cores = best.receiverCpuSeconds / seconds;
  }

  const overloadRate = 2 * (best ? Math.round(best.achieved) : rates[0]);
  const over = await runStep(overloadRate, seconds, opts);
  peakMiB = Math.max(peakMiB, over.peakMiB);
  opts.log(`  overload: ${describe(overloadRate, over)}`);
  out.pipeline_overload_rate = over.achieved;
  out.pipeline_overload_loss_ratio = lossRatio(over);
  out.pipeline_overload_records_lost = over.counters?.recordsLost ?? -1;
  out.pipeline_overload_dropped = over.counters?.dropped ?? -1;
  out.pipeline_overload_controller_failed = over.counters ? 0 : 1;
  for (const [name, value] of Object.entries(over.counters ?? {})) {
    if (name.startsWith("dropped") && name !== "dropped") {
      out[`pipeline_overload_${snake(name)}`] = value;
    }
  }
  out.controller_rss_mib_peak = peakMiB;
  return out;
}

/** droppedQueueFull → dropped_queue_full. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

/** Share of the spans sent that were not exported (1 when the controller failed). */
function lossRatio(s: Step): number {
  return s.counters ? Math.max(0, 1 - s.counters.exported / s.sent) : 1;
}

function describe(rate: number, s: Step): string {
  const c = s.counters;
  if (!c) return `${rate} spans/s offered: the controller failed`;
  const reasons = Object.entries(c)
    .filter(([name, n]) =>
      name.startsWith("dropped") && name !== "dropped" && n > 0
    )
    .map(([name, n]) => `${name} ${n}`);
  return `${rate} spans/s offered, ${
    Math.round(s.achieved)
  } made: sent ${s.sent}` +
    `, received ${c.received}, exported ${c.exported}, dropped ${c.dropped}` +
    (reasons.length ? ` (${reasons.join(", ")})` : "") +
    `, records lost ${c.recordsLost}, controller CPU ${
      (s.cpuSeconds / (c.received || 1) * 100_000).toFixed(3)
    } s per 100k spans`;
}

/** Runs the load program at `rate` for `seconds` under a fresh controller. */
async function runStep(
  rate: number,
  seconds: number,
  opts: PipelineOptions,
): Promise<Step> {
  const ctl = await startController({
    exe: opts.exe,
    pinRoot: opts.pinRoot,
    instance: `pipeline-${Math.round(rate)}`,
    endpoint: opts.receiver.url,
  });
  const bytes0 = opts.receiver.bytes();
  const cpu0 = cpuSeconds(ctl.pid);
  const self0 = cpuSeconds(Deno.pid);
  let app;
  try {
    app = await runApp(opts.exe, [
      "-mode=rate",
      "-attach=probe",
      `-rate=${rate}`,
      `-goroutines=${goroutines}`,
      `-duration=${seconds}s`,
    ]);
  } catch (err) {
    await ctl.stop().catch(() => {});
    throw err;
  }
  await new Promise((r) => setTimeout(r, settleMs));
  const cpu = cpuSeconds(ctl.pid) - cpu0;
  const self = cpuSeconds(Deno.pid) - self0;
  const { peakMiB } = memory(ctl.pid);
  let counters: StoppedCounters | undefined;
  try {
    counters = await ctl.stop();
  } catch (err) {
    opts.log(`  ${(err as Error).message}`);
  }
  return {
    rate,
    sent: Number(app.spans),
    achieved: Number(app.spans_per_s),
    counters,
    cpuSeconds: cpu,
    peakMiB,
    receiverBytes: opts.receiver.bytes() - bytes0,
    receiverCpuSeconds: self,
  };
}

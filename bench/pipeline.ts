/**
 * Pipeline throughput: the highest span rate the whole path (load program →
 * kernel → controller child → discarding OTLP receiver) carries without
 * loss, stepping the rate up; then what happens at twice that rate. Also the
 * controller's CPU seconds per 100k spans and its peak RSS. Then the same
 * stepping for log records alone and for spans and log records together
 * (half each), in records/s.
 *
 * @module
 */
import { runApp } from "./app.ts";
import { startController, type StoppedCounters } from "./controller.ts";
import { cpuSeconds, memory } from "./proc_stats.ts";
import type { DiscardReceiver } from "../testing/discard_receiver.ts";
import { lossless, lossRatio, maxRate, type Step } from "./step.ts";

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

/** Offered rates, records (spans, log records) per second. */
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

/**
 * What the load program makes (its -signals): spans, log records, or both
 * (every other record a log record).
 */
export type Signals = "spans" | "logs" | "mixed";

/**
 * Steps the span rate up until a step loses spans or the load program
 * cannot reach the rate, then runs once at twice the best lossless rate;
 * then steps log records alone and mixed records up the same way (no
 * overload step). Keys:
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
 * For logs alone and mixed (`<s>` = `logs`, `mixed`):
 * `pipeline_<s>_max_records_per_s`, `pipeline_<s>_max_records_per_s_made`,
 * `pipeline_<s>_loss_ratio_at_<k>k`, `controller_cpu_s_per_100k_records_<s>`
 * and `controller_cpu_cores_<s>` (at the best lossless rate), and
 * `pipeline_receiver_bytes_per_log_record` (logs alone).
 */
export async function benchPipeline(
  opts: PipelineOptions,
): Promise<Record<string, number>> {
  const seconds = opts.quick ? 2 : 30;
  const out: Record<string, number> = {};
  const spans = await stepUp("spans", seconds, opts);
  let peakMiB = spans.peakMiB;
  const best = spans.best;
  for (const [rate, ratio] of spans.lossRatios) {
    out[`pipeline_loss_ratio_at_${rate / 1000}k`] = ratio;
  }
  out.pipeline_max_spans_per_s = maxRate(best);
  out.pipeline_max_spans_per_s_made = best?.achieved ?? 0;
  if (best?.counters) {
    out.controller_cpu_s_per_100k_spans = best.cpuSeconds /
      best.counters.received * 100_000;
    out.controller_cpu_cores = best.cpuSeconds / seconds;
    out.pipeline_receiver_bytes_per_span = best.receiverBytes / best.sent;
    out.pipeline_receiver_cpu_cores = best.receiverCpuSeconds / seconds;
  }

  const overloadRate = 2 * (best ? Math.round(best.achieved) : rates[0]);
  const over = await runStep("spans", overloadRate, seconds, opts);
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

  for (const signals of ["logs", "mixed"] as const) {
    const run = await stepUp(signals, seconds, opts);
    peakMiB = Math.max(peakMiB, run.peakMiB);
    for (const [rate, ratio] of run.lossRatios) {
      out[`pipeline_${signals}_loss_ratio_at_${rate / 1000}k`] = ratio;
    }
    out[`pipeline_${signals}_max_records_per_s`] = maxRate(run.best);
    out[`pipeline_${signals}_max_records_per_s_made`] = run.best?.achieved ??
      0;
    const c = run.best?.counters;
    if (run.best && c) {
      out[`controller_cpu_s_per_100k_records_${signals}`] =
        run.best.cpuSeconds / (c.received + c.logsReceived) * 100_000;
      out[`controller_cpu_cores_${signals}`] = run.best.cpuSeconds / seconds;
      if (signals === "logs") {
        out.pipeline_receiver_bytes_per_log_record = run.best.receiverBytes /
          run.best.sent;
      }
    }
  }
  out.controller_rss_mib_peak = peakMiB;
  return out;
}

/** The steps of one {@linkcode stepUp}. */
interface StepUp {
  /** The lossless step with the highest rate (see maxRate), if any. */
  best?: Step;
  /** The share lost at each rate tried, in order. */
  lossRatios: [number, number][];
  /** The controller's peak RSS over the steps, MiB. */
  peakMiB: number;
}

/**
 * Steps the rate of `signals` up until a step loses records or the load
 * program cannot reach the rate.
 */
async function stepUp(
  signals: Signals,
  seconds: number,
  opts: PipelineOptions,
): Promise<StepUp> {
  const run: StepUp = { lossRatios: [], peakMiB: 0 };
  for (const rate of rates) {
    const step = await runStep(signals, rate, seconds, opts);
    run.peakMiB = Math.max(run.peakMiB, step.peakMiB);
    const ok = lossless(step);
    run.lossRatios.push([rate, lossRatio(step)]);
    opts.log(`  ${signals}: ${describe(rate, step)}${ok ? "" : " (loss)"}`);
    if (!ok) break;
    // A saturated step can make fewer records than the one before it.
    if (!run.best || maxRate(step) > maxRate(run.best)) run.best = step;
    if (step.achieved < 0.95 * rate) {
      opts.log(
        `  the load program reached only ${
          Math.round(step.achieved)
        } records/s: the machine is saturated`,
      );
      break;
    }
  }
  return run;
}

/** droppedQueueFull → dropped_queue_full. */
function snake(name: string): string {
  return name.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

function describe(rate: number, s: Step): string {
  const c = s.counters;
  if (!c) return `${rate} records/s offered: the controller failed`;
  const reasons = Object.entries(c)
    .filter(([name, n]) =>
      name.startsWith("dropped") && name !== "dropped" && n > 0
    )
    .map(([name, n]) => `${name} ${n}`);
  const logs = s.sentLogs > 0
    ? `; log records sent ${s.sentLogs}, received ${c.logsReceived}, exported ${c.logsExported}, dropped ${c.logsDropped}`
    : "";
  return `${rate} records/s offered, ${
    Math.round(s.achieved)
  } made: spans sent ${s.sentSpans}` +
    `, received ${c.received}, exported ${c.exported}, dropped ${c.dropped}` +
    (reasons.length ? ` (${reasons.join(", ")})` : "") + logs +
    `; records lost ${c.recordsLost}, controller CPU ${
      (s.cpuSeconds / ((c.received + c.logsReceived) || 1) * 100_000)
        .toFixed(3)
    } s per 100k records`;
}

/** Runs the load program making `signals` at `rate` for `seconds` under a fresh controller. */
async function runStep(
  signals: Signals,
  rate: number,
  seconds: number,
  opts: PipelineOptions,
): Promise<Step> {
  const ctl = await startController({
    exe: opts.exe,
    pinRoot: opts.pinRoot,
    instance: `pipeline-${signals}-${Math.round(rate)}`,
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
      `-signals=${signals}`,
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
    sent: Number(app.records),
    sentSpans: Number(app.spans),
    sentLogs: Number(app.logs),
    achieved: Number(app.records_per_s),
    counters,
    cpuSeconds: cpu,
    peakMiB,
    receiverBytes: opts.receiver.bytes() - bytes0,
    receiverCpuSeconds: self,
  };
}

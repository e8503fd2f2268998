/**
 * The memory soak of `deno task soak memory` (bench/soak.ts): the
 * controller's resident memory over a long run at a moderate rate, sampled
 * every 10 s, to see that it stays flat.
 *
 * @module
 */
import { runApp } from "./app.ts";
import { startController } from "./controller.ts";
import { memory } from "./proc_stats.ts";
import type { DiscardReceiver } from "../testing/discard_receiver.ts";

/** Options of {@linkcode benchSoak}. */
export interface SoakOptions {
  /** The load program. */
  exe: string;
  /** How long to run, in seconds. */
  seconds: number;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** The discarding receiver the controller exports to. */
  receiver: DiscardReceiver;
  /** Prints progress. */
  log: (line: string) => void;
}

/** Spans per second during the soak. */
export const soakRate = 20_000;

/** Seconds between RSS samples. */
const sampleSeconds = 10;

/**
 * Runs the load program at {@linkcode soakRate} for the given time under one
 * controller. Keys: `soak_seconds`, `soak_rate`, `soak_rss_mib_first`,
 * `soak_rss_mib_last`, `soak_rss_mib_max`, `soak_loss_ratio`.
 */
export async function benchSoak(
  opts: SoakOptions,
): Promise<Record<string, number>> {
  const ctl = await startController({
    exe: opts.exe,
    pinRoot: opts.pinRoot,
    instance: "soak",
    endpoint: opts.receiver.url,
  });
  const samples: number[] = [];
  const sample = () => {
    const { rssMiB } = memory(ctl.pid);
    samples.push(rssMiB);
    opts.log(
      `  ${samples.length * sampleSeconds} s: RSS ${rssMiB.toFixed(1)} MiB`,
    );
  };
  const timer = setInterval(sample, sampleSeconds * 1000);
  let app;
  try {
    app = await runApp(opts.exe, [
      "-mode=rate",
      "-attach=probe",
      `-rate=${soakRate}`,
      "-goroutines=2",
      `-duration=${opts.seconds}s`,
    ]);
  } catch (err) {
    await ctl.stop().catch(() => {});
    throw err;
  } finally {
    clearInterval(timer);
  }
  sample();
  const counters = await ctl.stop();
  return {
    soak_seconds: opts.seconds,
    soak_rate: soakRate,
    soak_rss_mib_first: samples[0],
    soak_rss_mib_last: samples[samples.length - 1],
    soak_rss_mib_max: Math.max(...samples),
    soak_loss_ratio: Math.max(0, 1 - counters.exported / Number(app.spans)),
  };
}

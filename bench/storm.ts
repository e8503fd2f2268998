/**
 * Discovery under an exec storm (issue 20): one controller with `run --all`
 * while `nobody` executes 3,000 distinct small binaries without the SDK at
 * ~5,000 execs/s for a few seconds, and SDK-linked programs (each its own
 * binary, so each needs reading) start during the storm and after it.
 * Measures exec-to-attach of the SDK programs, the agent's CPU during and
 * after the storm, how long /healthz took at worst, how long /readyz said
 * not ready, and whether every span arrived.
 *
 * ```sh
 * deno run -A bench/storm.ts [--rate 5000] [--seconds 3] [--pad 2097152]
 * ```
 *
 * Without `--pad` the storm's programs are 129-byte files, which the agent
 * rules out by their size alone; `--pad <bytes>` extends each with a hole to
 * that size, so that each must be read (the worst case: as large as an
 * SDK-linked binary). Results merge into bench/results.json as storm_* keys
 * (storm_padded_* with `--pad`).
 *
 * Bounded in time (under a minute after the build), loopback only; every
 * program lives in its own temporary directory, which the controller's
 * `--include-exe` names, so others' processes on a shared machine are not
 * traced.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { killAll, track } from "./children.ts";
import { startAgent } from "./controller.ts";
import { cpuSeconds } from "./proc_stats.ts";
import { formatTable, readResults, writeResults } from "./report.ts";
import { buildBinaries, quantile } from "./scale.ts";
import { startSpanCounter } from "./span_counter.ts";
import { removePinRoot, testPinRoot } from "../testing/ebpf.ts";
import {
  buildStormDriver,
  runStorm,
  writeStormPrograms,
} from "../testing/storm.ts";

/** Distinct binaries without the SDK, executed round robin. */
const stormBinaries = 3_000;
/** SDK-linked programs started during the storm, then after it. */
const sdkDuring = 8;
const sdkAfterMs = [1_000, 3_000, 10_000];
/** Spans each SDK-linked program makes once attached. */
const spansPerProgram = 20;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

interface SdkRun {
  spawnedMs: number;
  attachedMs: number;
  pid: number;
  spans: number;
}

/** Runs one SDK-linked program; it waits up to 60 s for the probe. */
async function runSdk(exe: string): Promise<SdkRun> {
  const spawnedMs = Date.now();
  const child = track(
    new Deno.Command(exe, {
      args: [`-spans=${spansPerProgram}`, "-life=200ms", "-wait=60s"],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn(),
  );
  const { stdout } = await child.output();
  const r = JSON.parse(new TextDecoder().decode(stdout));
  return {
    spawnedMs,
    attachedMs: r.attached ? r.attached_unix_ns / 1e6 : NaN,
    pid: r.pid,
    spans: r.spans,
  };
}

/** Options of {@linkcode benchStorm}. */
export interface StormBenchOptions {
  /** Execs per second. */
  rate: number;
  /** Seconds of storm. */
  seconds: number;
  /** Size to extend each storm program to (sparse); 0 keeps them tiny. */
  pad: number;
  /** A fresh directory for the binaries. */
  dir: string;
  /** The bpffs directory for the pins. */
  pinRoot: string;
  /** Prints progress. */
  log: (line: string) => void;
}

/** Runs the storm once and returns its storm_* results. */
export async function benchStorm(
  opts: StormBenchOptions,
): Promise<Record<string, number>> {
  await Deno.chmod(opts.dir, 0o755);
  const [driver, programs, sdk] = await Promise.all([
    buildStormDriver(opts.dir),
    writeStormPrograms(`${opts.dir}/storm`, stormBinaries, opts.pad),
    buildBinaries(opts.dir, sdkDuring + sdkAfterMs.length),
  ]);
  const counter = await startSpanCounter();
  const ctl = startAgent({
    dir: opts.dir,
    pinRoot: opts.pinRoot,
    instance: `storm-${Deno.pid}`,
    endpoint: counter.url,
    args: ["--telemetry", "127.0.0.1:0"],
  });
  try {
    await ctl.waitFor("watching for new processes", 60_000);
    const address = (await ctl.waitFor("telemetry listening")).address;
    const base = `http://${address}`;
    await sleep(1_000);

    // Liveness, readiness and CPU, sampled through the storm and after it.
    let sampling = true;
    let healthzMaxMs = 0;
    let notReadyMs = 0;
    const notReadyReasons = new Set<string>();
    const probes = (async () => {
      while (sampling) {
        const t0 = performance.now();
        await (await fetch(`${base}/healthz`)).body?.cancel();
        healthzMaxMs = Math.max(healthzMaxMs, performance.now() - t0);
        const ready = await fetch(`${base}/readyz`);
        const body = await ready.text();
        if (ready.status !== 200) {
          notReadyMs += 250;
          for (const line of body.split("\n")) {
            if (line.startsWith("FAIL")) notReadyReasons.add(line);
          }
        }
        await sleep(250);
      }
    })();
    const cpu: { atMs: number; seconds: number }[] = [];
    const cpuTimer = setInterval(
      () => cpu.push({ atMs: Date.now(), seconds: cpuSeconds(ctl.pid) }),
      500,
    );
    const cpuBefore = cpuSeconds(ctl.pid);
    const stormStart = Date.now();
    opts.log(`storm: ${opts.rate} execs/s for ${opts.seconds} s`);
    const storm = runStorm({
      driver,
      programs,
      rate: opts.rate,
      durationMs: opts.seconds * 1000,
    });
    const runs: Promise<SdkRun>[] = [];
    for (let i = 0; i < sdkDuring; i++) {
      await sleep((opts.seconds * 1000) / (sdkDuring + 1));
      runs.push(runSdk(sdk[i]));
    }
    const stormResult = await storm;
    const stormEnd = Date.now();
    const cpuStorm = cpuSeconds(ctl.pid) - cpuBefore;
    opts.log(
      `storm: ${stormResult.execs} execs at ${stormResult.rate.toFixed(0)}/s`,
    );
    for (const [i, after] of sdkAfterMs.entries()) {
      await sleep(stormEnd + after - Date.now());
      runs.push(runSdk(sdk[sdkDuring + i]));
    }
    const done = await Promise.all(runs);
    await sleep(2_000);
    sampling = false;
    clearInterval(cpuTimer);
    await probes;

    // Busy after the storm: until the first half second under 20% CPU.
    let busyAfterMs = 0;
    for (let i = 1; i < cpu.length; i++) {
      if (cpu[i].atMs <= stormEnd) continue;
      const pct = (cpu[i].seconds - cpu[i - 1].seconds) /
        ((cpu[i].atMs - cpu[i - 1].atMs) / 1000) * 100;
      if (pct < 20) break;
      busyAfterMs = cpu[i].atMs - stormEnd;
    }
    const status = await ctl.stop();
    const stopped = ctl.logs.find((l) => l.msg === "stopped");
    if (!stopped) {
      throw new Error(
        `The controller failed (exit code ${status.code}); its log:\n${ctl.dump()}`,
      );
    }
    const latencies = done.map((r) => r.attachedMs - r.spawnedMs);
    const attached = latencies.filter((ms) => !Number.isNaN(ms));
    const made = done.reduce((n, r) => n + r.spans, 0);
    const received = done.reduce(
      (n, r) => n + (counter.byPid.get(r.pid) ?? 0),
      0,
    );
    if (notReadyReasons.size > 0) {
      opts.log(`not ready because:\n  ${[...notReadyReasons].join("\n  ")}`);
    }
    return {
      storm_exec_rate: Math.round(stormResult.rate),
      storm_execs: stormResult.execs,
      storm_seconds: Number(((stormEnd - stormStart) / 1000).toFixed(2)),
      storm_sdk_programs: done.length,
      storm_sdk_never_attached: latencies.length - attached.length,
      storm_exec_to_attach_ms_p50: Math.round(quantile(attached, 0.5)),
      storm_exec_to_attach_ms_p99: Math.round(quantile(attached, 0.99)),
      storm_exec_to_attach_ms_max: Math.round(Math.max(...attached)),
      storm_agent_cpu_percent_during: Math.round(
        cpuStorm / ((stormEnd - stormStart) / 1000) * 100,
      ),
      storm_agent_busy_after_s: busyAfterMs / 1000,
      storm_healthz_max_ms: Math.round(healthzMaxMs),
      storm_not_ready_s: notReadyMs / 1000,
      storm_exec_events_lost: Number(stopped.execEventsLost ?? 0),
      storm_spans_lost: made - received,
    };
  } finally {
    if (!ctl.stopped) await ctl.stop();
    await counter.close();
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      rate: { type: "string", default: "5000" },
      seconds: { type: "string", default: "3" },
      pad: { type: "string", default: "0" },
    },
  });
  const pad = Number(values.pad);
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-storm-" });
  const pinRoot = testPinRoot(`storm-${Deno.pid}`);
  try {
    const results = await benchStorm({
      rate: Number(values.rate),
      seconds: Number(values.seconds),
      pad,
      dir,
      pinRoot,
      log: (line) => console.error(line),
    });
    const named = Object.fromEntries(
      Object.entries(results).map((
        [k, v],
      ) => [pad > 0 ? k.replace(/^storm_/, "storm_padded_") : k, v]),
    );
    console.log(formatTable(named));
    const file = new URL("./results.json", import.meta.url).pathname;
    writeResults(file, { ...readResults(file), ...named });
  } finally {
    await killAll();
    removePinRoot(pinRoot);
    await Deno.remove(dir, { recursive: true });
  }
}

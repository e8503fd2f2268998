/**
 * The node agent at scale: one controller with `run --all` while 200
 * SDK-linked processes of 20 distinct binaries start and stop continuously
 * (each lives 0.5-2.5 s after it saw the probe and makes 20 spans; the 200
 * ramp up over the first ~2 s) beside 500 idle processes without the SDK; then the same defaults at
 * 200k spans/s. Measures the time from exec to attached, spans lost per
 * process, the agent's CPU while idle and under churn, and where its memory
 * is (VmHWM, RssAnon, RssFile, the ring's mapping).
 *
 * ```sh
 * deno run -A bench/scale.ts [--seconds 60] [--quick]   # merges scale_* keys into bench/results.json
 * ```
 *
 * Every process it starts lives in its own temporary directory and the
 * controller's `--include-exe` names only that directory, so processes of
 * others on a shared machine neither count nor get traced.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildApp, runApp } from "./app.ts";
import { killAll, track } from "./children.ts";
import { startAgent, startController } from "./controller.ts";
import { cpuSeconds } from "./proc_stats.ts";
import { type MemoryDetail, memoryDetail } from "./proc_memory.ts";
import { startDiscardReceiver } from "../testing/discard_receiver.ts";
import { formatTable, readResults, writeResults } from "./report.ts";
import { startSpanCounter } from "./span_counter.ts";

/** Options of {@linkcode benchScale}. */
export interface ScaleOptions {
  /** Seconds of churn (60 in a full run). */
  seconds: number;
  /** Shorter idle and rate phases. */
  quick: boolean;
  /**
   * Instead of the churn: all the SDK-linked processes spawned in the same
   * instant, once each (a node starting), and no idle or rate phase.
   */
  burst?: boolean;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** A fresh directory for the binaries (and nothing else). */
  dir: string;
  /** Prints progress. */
  log: (line: string) => void;
}

/** SDK-linked processes running at every moment of the churn. */
const sdkProcesses = 200;
/** Distinct SDK-linked binaries they run. */
const sdkBinaries = 20;
/** Idle processes without the SDK. */
const idleProcesses = 500;
/** Spans each SDK-linked process makes once attached. */
const spansPerProcess = 20;
/** Lifetime of a process after it saw the probe: uniform in this range, ms. */
const lifeMs = [500, 2500];
/** Delay between the first starts of two slots: the 200 ramp up over ~2 s, one lifetime. */
const rampMs = 10;
/** The span rate of the memory phase. */
const rateSpansPerS = 200_000;

const scaleAppDir = new URL("./scale_app/", import.meta.url).pathname;

/** The 1-minute load average: the machine is shared, so results record it. */
function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

/** Processes forked on the whole host since boot (/proc/stat): others' execs wake the agent too. */
function hostForks(): number {
  const m = Deno.readTextFileSync("/proc/stat").match(/^processes (\d+)$/m);
  return m ? Number(m[1]) : NaN;
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** The value at quantile `q` (0..1) of `values`, nearest rank; NaN when empty. */
export function quantile(values: number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil(q * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

/** Builds bench/scale_app and writes `n` copies that differ in trailing bytes. */
export async function buildBinaries(dir: string, n: number): Promise<string[]> {
  const base = `${dir}/scale_app`;
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", base, "."],
    cwd: scaleAppDir,
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot build the scale program (go build in ${scaleAppDir}): ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  const bytes = await Deno.readFile(base);
  await Deno.remove(base);
  const paths: string[] = [];
  for (let i = 0; i < n; i++) {
    const path = `${dir}/sdk-${String(i).padStart(2, "0")}`;
    const tail = new TextEncoder().encode(`\nspanbridge scale copy ${i}\n`);
    const copy = new Uint8Array(bytes.length + tail.length);
    copy.set(bytes);
    copy.set(tail, bytes.length);
    await Deno.writeFile(path, copy, { mode: 0o755 });
    paths.push(path);
  }
  return paths;
}

/** One short-lived SDK-linked process as it reported itself. */
interface Run {
  pid: number;
  /** Date.now() just before it was spawned. */
  spawnedMs: number;
  /** When it saw the probe (Unix ms); NaN when it never did. */
  attachedMs: number;
  /** Whether the probe was there at its first look. */
  warm: boolean;
  /** Spans it made. */
  spans: number;
}

async function runOne(exe: string, life: number): Promise<Run> {
  const spawnedMs = Date.now();
  const child = track(
    new Deno.Command(exe, {
      args: [`-spans=${spansPerProcess}`, `-life=${life}ms`, "-wait=10s"],
      stdout: "piped",
      stderr: "piped",
      stdin: "null",
    }).spawn(),
  );
  const { code, stdout, stderr } = await child.output();
  const dec = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `${exe} (pid ${child.pid}) exited with ${code}: ${
        dec.decode(stderr).trim()
      }`,
    );
  }
  const r = JSON.parse(dec.decode(stdout));
  return {
    pid: r.pid,
    spawnedMs,
    attachedMs: r.attached ? r.attached_unix_ns / 1e6 : NaN,
    warm: r.attached_at_start,
    spans: r.spans,
  };
}

/** Starts `n` idle processes of `exe` (sleep) and returns them. */
function startIdle(exe: string, n: number): Deno.ChildProcess[] {
  const out: Deno.ChildProcess[] = [];
  for (let i = 0; i < n; i++) {
    out.push(track(
      new Deno.Command(exe, {
        args: ["100000"],
        stdout: "null",
        stderr: "null",
        stdin: "null",
      }).spawn(),
    ));
  }
  return out;
}

/** Largest value of each field over the samples. */
function peaks(samples: MemoryDetail[]): MemoryDetail {
  const out = { ...samples[0] };
  for (const s of samples) {
    for (const k of Object.keys(out) as (keyof MemoryDetail)[]) {
      out[k] = Math.max(out[k], s[k]);
    }
  }
  return out;
}

function memoryKeys(prefix: string, m: MemoryDetail): Record<string, number> {
  return {
    [`${prefix}_rss_mib`]: m.rss,
    [`${prefix}_vmhwm_mib`]: m.hwm,
    [`${prefix}_rss_anon_mib`]: m.anon,
    [`${prefix}_rss_file_mib`]: m.file,
    [`${prefix}_rss_ring_mib`]: m.bpfMaps,
    [`${prefix}_rss_deno_exe_mib`]: m.exe,
  };
}

/** Samples memoryDetail(pid) every `everyMs` until stop() is called. */
function sampler(pid: number, everyMs: number) {
  const samples: MemoryDetail[] = [memoryDetail(pid)];
  const timer = setInterval(() => {
    try {
      samples.push(memoryDetail(pid));
    } catch {
      // It exited; the caller notices.
    }
  }, everyMs);
  return {
    stop(): MemoryDetail {
      clearInterval(timer);
      samples.push(memoryDetail(pid));
      return peaks(samples);
    },
  };
}

/**
 * Runs the scale benchmark. Keys (all `scale_`): `exec_to_attach_ms_p50/_p99`
 * over every process (spawn → the process saw its probe point patched),
 * `_cold_` the same for processes whose binary had no probe at their start,
 * `controller_attach_ms_p50/_p99` (spawn → the controller's "attached" log
 * line naming that pid), `processes`, `processes_not_attached`,
 * `spans_sent`, `spans_received`, `spans_lost` (per process, summed),
 * `spans_duplicated`, `spans_unattributed` (no or a foreign process.pid),
 * the controller's `records_lost` and `dropped`, `cpu_idle_percent`,
 * `cpu_churn_percent` (of one core), `idle_host_forks_per_s` (processes
 * the whole host started meanwhile: the agent looks at each), memory keys `idle_*`, `churn_peak_*`
 * and `rate_peak_*` (`_rss_mib`, `_vmhwm_mib`, `_rss_anon_mib`,
 * `_rss_file_mib`, `_rss_ring_mib`, `_rss_deno_exe_mib`), `rate_spans_per_s`,
 * `rate_lossless` (1/0) and `loadavg_1m_*` beside each phase.
 */
export async function benchScale(
  opts: ScaleOptions,
): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  const idleSeconds = opts.quick ? 10 : 30;
  const binaries = await buildBinaries(opts.dir, sdkBinaries);
  const idleExe = `${opts.dir}/idle`;
  await Deno.copyFile("/bin/sleep", idleExe);
  const counter = await startSpanCounter();
  const ctl = startAgent({
    dir: opts.dir,
    pinRoot: opts.pinRoot,
    instance: `scale-${Deno.pid}`,
    endpoint: counter.url,
  });
  try {
    await Promise.race([
      ctl.waitFor("watching for new processes"),
      ctl.child.status.then((s) => {
        throw new Error(
          `The controller exited with ${s.code}; its log:\n${ctl.dump()}`,
        );
      }),
    ]);
    const pid = ctl.pid;

    // Idle: 500 processes without the SDK, no span.
    const idle = startIdle(idleExe, opts.burst ? 0 : idleProcesses);
    await sleep(opts.burst ? 0 : 5000);
    out.scale_loadavg_1m_idle = loadAverage();
    const idleCpu0 = cpuSeconds(pid);
    const forks0 = hostForks();
    await sleep(opts.burst ? 0 : idleSeconds * 1000);
    out.scale_cpu_idle_percent = (cpuSeconds(pid) - idleCpu0) / idleSeconds *
      100;
    out.scale_idle_host_forks_per_s = (hostForks() - forks0) / idleSeconds;
    Object.assign(out, memoryKeys("scale_idle", memoryDetail(pid)));
    opts.log(
      `  idle with ${idleProcesses} processes: CPU ${
        out.scale_cpu_idle_percent.toFixed(2)
      }% of a core, RSS ${out.scale_idle_rss_mib.toFixed(1)} MiB`,
    );

    // Churn: 200 SDK-linked processes at every moment, for `seconds`.
    out.scale_loadavg_1m_churn_start = loadAverage();
    const churnCpu0 = cpuSeconds(pid);
    const mem = sampler(pid, 500);
    const t0 = Date.now();
    const end = t0 + opts.seconds * 1000;
    const runs: Run[] = [];
    const failures: string[] = [];
    const slot = async (i: number) => {
      await sleep(opts.burst ? 0 : i * rampMs);
      for (
        let once = true;
        opts.burst ? once : Date.now() < end;
        once = false
      ) {
        const life = lifeMs[0] + Math.random() * (lifeMs[1] - lifeMs[0]);
        try {
          runs.push(await runOne(binaries[i % sdkBinaries], Math.round(life)));
        } catch (err) {
          failures.push((err as Error).message);
        }
      }
    };
    await Promise.all(
      Array.from({ length: sdkProcesses }, (_, i) => slot(i)),
    );
    const churnSeconds = (Date.now() - t0) / 1000;
    out.scale_cpu_churn_percent = (cpuSeconds(pid) - churnCpu0) /
      churnSeconds * 100;
    out.scale_loadavg_1m_churn_end = loadAverage();
    Object.assign(out, memoryKeys("scale_churn_peak", mem.stop()));
    if (failures.length > 0) {
      opts.log(`  ${failures.length} processes failed, e.g. ${failures[0]}`);
    }

    // Every span made must arrive: wait for the exporter to catch up.
    const sent = runs.reduce((n, r) => n + r.spans, 0);
    const deadline = Date.now() + 30_000;
    while (counter.total() < sent && Date.now() < deadline) await sleep(200);
    await sleep(1000);
    for (const child of idle) child.kill("SIGKILL");
    await Promise.allSettled(idle.map((c) => c.status));
    const status = await ctl.stop();
    const stopped = ctl.logs.find((l) => l.msg === "stopped");
    if (!stopped) {
      throw new Error(
        `The controller exited with ${status.code} without its stopped line; its log:\n${ctl.dump()}`,
      );
    }

    // Per process: spans made against spans received under its pid.
    const expected = new Map<number, number>();
    for (const r of runs) {
      expected.set(r.pid, (expected.get(r.pid) ?? 0) + r.spans);
    }
    let lost = 0;
    let duplicated = 0;
    let unattributed = 0;
    for (const [p, n] of expected) {
      const got = counter.byPid.get(p) ?? 0;
      lost += Math.max(0, n - got);
      duplicated += Math.max(0, got - n);
    }
    for (const [p, n] of counter.byPid) {
      if (!expected.has(p)) unattributed += n;
    }
    const attach = runs.filter((r) => !isNaN(r.attachedMs));
    const ms = (r: Run) => r.attachedMs - r.spawnedMs;
    const cold = attach.filter((r) => !r.warm);
    const spawned = new Map(runs.map((r) => [r.pid, r.spawnedMs]));
    const controllerAttach = ctl.logs
      .filter((l) => l.msg === "attached" && spawned.has(l.pid as number))
      .map((l) => Date.parse(l.time as string) - spawned.get(l.pid as number)!);
    Object.assign(out, {
      scale_seconds: churnSeconds,
      scale_sdk_processes: sdkProcesses,
      scale_sdk_binaries: sdkBinaries,
      scale_idle_processes: idleProcesses,
      scale_processes: runs.length,
      scale_processes_failed: failures.length,
      scale_processes_not_attached: runs.length - attach.length,
      scale_exec_to_attach_ms_p50: quantile(attach.map(ms), 0.5),
      scale_exec_to_attach_ms_p99: quantile(attach.map(ms), 0.99),
      scale_exec_to_attach_ms_max: quantile(attach.map(ms), 1),
      scale_exec_to_attach_cold_processes: cold.length,
      scale_exec_to_attach_cold_ms_p50: quantile(cold.map(ms), 0.5),
      scale_exec_to_attach_cold_ms_p99: quantile(cold.map(ms), 0.99),
      scale_controller_attaches: controllerAttach.length,
      scale_controller_attach_ms_p50: quantile(controllerAttach, 0.5),
      scale_controller_attach_ms_p99: quantile(controllerAttach, 0.99),
      scale_spans_sent: sent,
      scale_spans_received: counter.total(),
      scale_spans_lost: lost,
      scale_spans_duplicated: duplicated,
      scale_spans_unattributed: unattributed,
      scale_records_lost: Number(stopped.recordsLost),
      scale_dropped: Number(stopped.dropped),
    });
    opts.log(
      `  churn: ${runs.length} processes in ${
        churnSeconds.toFixed(1)
      } s, exec→attach p50 ${out.scale_exec_to_attach_ms_p50} ms p99 ${out.scale_exec_to_attach_ms_p99} ms` +
        ` (cold ${cold.length}: p99 ${out.scale_exec_to_attach_cold_ms_p99} ms), spans ${sent} sent, ${lost} lost,` +
        ` CPU ${out.scale_cpu_churn_percent.toFixed(1)}%, peak RSS ${
          out.scale_churn_peak_vmhwm_mib.toFixed(1)
        } MiB`,
    );
  } finally {
    await ctl.stop().catch(() => {});
    await counter.close();
  }

  if (!opts.burst) Object.assign(out, await benchRate(opts));
  return out;
}

/**
 * The defaults at 200k spans/s: a controller (`--target`, default ring and
 * queue bounds) and the load program for a few seconds, memory sampled
 * every 250 ms; lossless when every span sent was received and exported.
 */
async function benchRate(
  opts: ScaleOptions,
): Promise<Record<string, number>> {
  const seconds = opts.quick ? 5 : 20;
  const exe = await buildApp(opts.dir);
  const receiver = await startDiscardReceiver();
  try {
    const ctl = await startController({
      exe,
      pinRoot: opts.pinRoot,
      instance: `scale-rate-${Deno.pid}`,
      endpoint: receiver.url,
    });
    const mem = sampler(ctl.pid, 250);
    const load0 = loadAverage();
    let app;
    try {
      app = await runApp(exe, [
        "-mode=rate",
        "-attach=probe",
        `-rate=${rateSpansPerS}`,
        "-goroutines=2",
        `-duration=${seconds}s`,
      ]);
    } finally {
      await sleep(1000);
    }
    const peak = mem.stop();
    const c = await ctl.stop();
    const sentSpans = Number(app.spans);
    const lossless = c.received === sentSpans && c.exported === c.received &&
      c.dropped === 0 && c.recordsLost === 0;
    opts.log(
      `  ${rateSpansPerS} spans/s offered, ${
        Math.round(Number(app.spans_per_s))
      } made: sent ${sentSpans}, received ${c.received}, exported ${c.exported}, lost ${c.recordsLost}; peak RSS ${
        peak.hwm.toFixed(1)
      } MiB`,
    );
    return {
      scale_rate_spans_per_s: Number(app.spans_per_s),
      scale_rate_lossless: lossless ? 1 : 0,
      scale_loadavg_1m_rate: load0,
      ...memoryKeys("scale_rate_peak", peak),
    };
  } finally {
    await receiver.close();
  }
}

const help =
  `deno run -A bench/scale.ts [--seconds 60] [--quick] [--rate-only | --burst]

  --seconds <n>   seconds of process churn (default 60)
  --quick         shorter idle and rate phases
  --rate-only     only the 200k spans/s phase (results not merged)
  --burst         all SDK-linked processes spawned at once, once each;
                  no idle or rate phase (results not merged)
Merges its scale_* keys into bench/results.json.
`;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      seconds: { type: "string", default: "60" },
      quick: { type: "boolean" },
      "rate-only": { type: "boolean" },
      burst: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const seconds = Number(values.seconds);
  if (!(seconds >= 5)) {
    throw new Error(
      `Invalid --seconds "${values.seconds}": expected at least 5.`,
    );
  }
  const { requireEbpf } = await import("../testing/ebpf.ts");
  requireEbpf("The scale benchmark");
  const pinRoot = `/sys/fs/bpf/spanbridge-bench-${Deno.pid}`;
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-scale-" });
  const cleanup = async () => {
    await killAll();
    await Deno.remove(pinRoot, { recursive: true }).catch(() => {});
    await Deno.remove(dir, { recursive: true }).catch(() => {});
  };
  const onSignal = () => cleanup().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  try {
    const opts: ScaleOptions = {
      seconds,
      quick: values.quick ?? false,
      burst: values.burst ?? false,
      pinRoot,
      dir,
      log: (line) => console.error(line),
    };
    const rateOnly = values["rate-only"] ?? false;
    const results = await (rateOnly ? benchRate(opts) : benchScale(opts));
    const path = new URL("./results.json", import.meta.url).pathname;
    if (!rateOnly && !opts.burst) {
      writeResults(path, { ...readResults(path), ...results });
    }
    console.log(formatTable(results));
    return 0;
  } finally {
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await main());
  } catch (err) {
    console.error(`bench/scale: ${(err as Error).message}`);
    Deno.exit(1);
  }
}

/**
 * `deno task bench`: app-side cost per span, pipeline throughput, controller
 * CPU and memory, end-to-end latency and the ring reader, measured side by
 * side on this machine; writes bench/results.json and prints a table.
 * `--quick` takes under three minutes. Needs root and eBPF. The long runs
 * (the memory soak among them) are `deno task soak` (bench/soak.ts).
 *
 * @module
 */
import { parseArgs } from "node:util";
import { benchReader } from "./reader.ts";
import { buildApp } from "./app.ts";
import { benchAppCost } from "./app_cost.ts";
import { killAll } from "./children.ts";
import { benchLatency } from "./latency.ts";
import { benchPipeline } from "./pipeline.ts";
import { startDiscardReceiver } from "../testing/discard_receiver.ts";
import { formatTable, type Results, writeResults } from "./report.ts";
import { benchScale } from "./scale.ts";
import { exitCodeOf } from "../src/cli/mod.ts";
import { requireEbpf } from "../testing/ebpf.ts";

const help = `deno task bench [--quick]

  --quick            short runs (under three minutes)

The memory soak is deno task soak memory [--seconds 600].
`;

const resultsPath = new URL("./results.json", import.meta.url).pathname;

/** The 1-minute load average: the machine is shared, so results record it. */
function loadAverage(): number {
  return Number(Deno.readTextFileSync("/proc/loadavg").split(" ")[0]);
}

function log(line: string): void {
  console.error(line);
}

async function timed<T>(name: string, fn: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  log(`${name}...`);
  const result = await fn();
  log(`${name}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return result;
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      quick: { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  });
  if (values.help) {
    console.log(help);
    return 0;
  }
  const quick = values.quick ?? false;
  requireEbpf("The benchmark");

  const pinRoot = `/sys/fs/bpf/spanbridge-bench-${Deno.pid}`;
  const tmp = await Deno.makeTempDir({ prefix: "spanbridge-bench-" });
  const cleanup = async () => {
    await killAll();
    await Deno.remove(pinRoot, { recursive: true }).catch(() => {});
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  };
  const onSignal = () => cleanup().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const receiver = await startDiscardReceiver();
  try {
    const exe = await timed("build the load program", () => buildApp(tmp));
    const results: Results = {
      quick: quick ? 1 : 0,
      timestamp_unix_s: Math.round(Date.now() / 1000),
      loadavg_1m_start: loadAverage(),
    };
    Object.assign(
      results,
      await timed(
        "app-side cost per span",
        () =>
          benchAppCost({ exe, quick, pinRoot, endpoint: receiver.url, log }),
      ),
    );
    Object.assign(
      results,
      await timed(
        "pipeline throughput",
        () => benchPipeline({ exe, quick, pinRoot, receiver, log }),
      ),
    );
    Object.assign(
      results,
      await timed(
        "end-to-end latency",
        () => benchLatency({ exe, quick, pinRoot, log }),
      ),
    );
    Object.assign(
      results,
      await timed("ring reader", () => benchReader({ quick })),
    );
    const scaleDir = `${tmp}/scale`;
    await Deno.mkdir(scaleDir);
    Object.assign(
      results,
      await timed("scale", () =>
        benchScale({
          seconds: quick ? 15 : 60,
          quick,
          pinRoot,
          dir: scaleDir,
          log,
        })),
    );
    results.loadavg_1m_end = loadAverage();
    writeResults(resultsPath, results);
    console.log(formatTable(results));
    log(`wrote ${resultsPath}`);
    return 0;
  } finally {
    await receiver.close();
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

try {
  Deno.exit(await main());
} catch (err) {
  console.error(`bench: ${(err as Error).message}`);
  Deno.exit(exitCodeOf(err));
}

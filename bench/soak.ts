/**
 * `deno task soak`: the runs too long for the test suite and the benchmark,
 * one scenario per call. Needs root and eBPF.
 *
 * ```sh
 * deno task soak memory [--seconds 600]
 * deno task soak outage [--seconds 60] [--rate 200] [--after 15] [--queue 100000]
 * ```
 *
 * `memory` (bench/soak_memory.ts): the controller's resident memory under a
 * steady load; merges its `soak_*` keys into bench/results.json and prints
 * them. `outage` (bench/soak_outage.ts): a collector outage of `--seconds`
 * and the recovery after it; prints one JSON summary and each check. Exits 1
 * when a check fails, 2 on bad usage, 3 without eBPF.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { buildApp } from "./app.ts";
import { killAll } from "./children.ts";
import { formatTable, readResults, writeResults } from "./report.ts";
import { benchSoak } from "./soak_memory.ts";
import { outage } from "./soak_outage.ts";
import { exitCodeOf } from "../src/cli/mod.ts";
import { UsageError } from "../src/errors.ts";
import { startDiscardReceiver } from "../testing/discard_receiver.ts";
import {
  ebpfAvailable,
  removePinRoot,
  requireEbpf,
  testPinRoot,
} from "../testing/ebpf.ts";

const usage = `Usage:
  deno task soak memory [--seconds <n>]     (default 600, at least 10)
  deno task soak outage [--seconds <n>] [--rate <traces/s>] [--after <s>] [--queue <spans>]
                                            (defaults: 60 s, 200/s, 15 s, the controller's queue)`;

const resultsPath = new URL("./results.json", import.meta.url).pathname;

/** The memory soak with its load program, receiver and pins; merges its keys into bench/results.json. */
async function memory(seconds: number): Promise<number> {
  requireEbpf("The memory soak");
  const pinRoot = testPinRoot("soak");
  const tmp = await Deno.makeTempDir({ prefix: "spanbridge-soak-" });
  const cleanup = async () => {
    await killAll();
    removePinRoot(pinRoot);
    await Deno.remove(tmp, { recursive: true }).catch(() => {});
  };
  const onSignal = () => cleanup().finally(() => Deno.exit(130));
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  const receiver = await startDiscardReceiver();
  try {
    const exe = await buildApp(tmp);
    const log = (line: string) => console.error(line);
    log(`memory soak (${seconds} s)...`);
    const soak = await benchSoak({ exe, seconds, pinRoot, receiver, log });
    writeResults(resultsPath, { ...readResults(resultsPath), ...soak });
    console.log(formatTable(soak));
    log(`merged into ${resultsPath}`);
    return 0;
  } finally {
    await receiver.close();
    await cleanup();
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
  }
}

/** Parses the command line and runs the scenario; resolves to the exit code. */
async function main(args: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        seconds: { type: "string" },
        rate: { type: "string", default: "200" },
        after: { type: "string", default: "15" },
        queue: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
    });
  } catch (e) {
    throw new UsageError(`${(e as Error).message}\n${usage}`);
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(usage);
    return 0;
  }
  const [scenario, ...rest] = positionals;
  const number = (flag: string, text: string | undefined, min: number) => {
    const n = Number(text);
    if (!(n >= min)) {
      throw new UsageError(
        `Invalid --${flag} "${text}": expected a number, at least ${min}.\n${usage}`,
      );
    }
    return n;
  };
  if (rest.length > 0 || (scenario !== "memory" && scenario !== "outage")) {
    throw new UsageError(
      `Unknown scenario "${
        positionals.join(" ")
      }": expected memory or outage.\n${usage}`,
    );
  }
  if (scenario === "memory") {
    return await memory(number("seconds", values.seconds ?? "600", 10));
  }
  const options = {
    seconds: number("seconds", values.seconds ?? "60", 1),
    rate: number("rate", values.rate, 1),
    after: number("after", values.after, 1),
    queue: values.queue === undefined
      ? undefined
      : number("queue", values.queue, 1),
  };
  if (!ebpfAvailable("the outage soak")) return 0;
  const { summary, checks } = await outage(options);
  console.log(JSON.stringify(summary));
  let failed = 0;
  for (const [check, ok] of Object.entries(checks)) {
    console.log(`${ok ? "ok  " : "FAIL"} ${check}`);
    if (!ok) failed++;
  }
  return failed === 0 ? 0 : 1;
}

try {
  Deno.exit(await main(Deno.args));
} catch (err) {
  console.error(`soak: ${(err as Error).message}`);
  Deno.exit(exitCodeOf(err));
}

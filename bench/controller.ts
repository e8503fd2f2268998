/**
 * The controller as a child process (`src/main.ts run`, as a user runs it)
 * pointed at one target executable or, as the node agent, at every program
 * under a directory, with its pins under the benchmark's own pin root.
 *
 * @module
 */
import { ControllerProcess } from "../testing/harness.ts";
import { track } from "./children.ts";

/** The final counters of the controller's `stopped` log line. */
export interface StoppedCounters {
  /** Spans read from the ring and decoded. */
  received: number;
  /** Spans the exporter delivered. */
  exported: number;
  /** Spans the exporter dropped. */
  dropped: number;
  /** Records (batches) lost in the kernel. */
  recordsLost: number;
  /** Records that failed to decode. */
  recordsCorrupt: number;
  /**
   * The `logs` object of the line flattened: `logsReceived`,
   * `logsExported`, `logsDropped`, `logsDroppedQueueFull`, ... (0 when the
   * line has none: no log record came).
   */
  logsReceived: number;
  /** Log records the exporter delivered. */
  logsExported: number;
  /** Log records the exporter dropped. */
  logsDropped: number;
  /** Any further counter of the line, e.g. the exporter's drops by reason. */
  [counter: string]: number;
}

/** The V8 flags of `deno task run`, the image's entry point and the compiled binary. */
export const agentV8Flags = "--max-semi-space-size=1";

/** Options of {@linkcode startController}. */
export interface BenchControllerOptions {
  /** The executable to trace. */
  exe: string;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** The instance name (pin directory under pinRoot). */
  instance: string;
  /**
   * Where spans are exported (OTLP/HTTP traces URL); log records go to the
   * same URL with /v1/logs for /v1/traces.
   */
  endpoint: string;
  /** Extra environment, e.g. OTEL_BSP_* of the controller's export queue. */
  env?: Record<string, string>;
}

/** A controller child that has attached to its target. */
export interface BenchController {
  /** Its process id, for /proc statistics. */
  pid: number;
  /** The probe program it loaded ("dynptr" or "classes"). */
  kind: string;
  /** Stops it with SIGTERM and returns its final counters. */
  stop(): Promise<StoppedCounters>;
}

/** Starts a controller and resolves once it logged "attached". */
export async function startController(
  options: BenchControllerOptions,
): Promise<BenchController> {
  const proc = new ControllerProcess([
    "run",
    "--target",
    options.exe,
    "--pin-root",
    options.pinRoot,
    "--instance",
    options.instance,
    "--no-status",
  ], {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: options.endpoint,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: logsUrl(options.endpoint),
    // The V8 settings the agent's launchers give it (deno task run, the image, the binary).
    DENO_V8_FLAGS: agentV8Flags,
    ...options.env,
  });
  track(proc.child);
  // A controller that exits before attaching fails the start at once.
  const exited = proc.child.status.then((status) => {
    throw new Error(
      `The controller exited with ${status.code} before attaching; its log:\n${proc.dump()}`,
    );
  });
  exited.catch(() => {}); // It rejects at every exit, also after a clean stop.
  try {
    const [loaded] = await Promise.race([
      Promise.all([proc.waitFor("loaded the probe"), proc.waitFor("attached")]),
      exited,
    ]);
    return {
      pid: proc.child.pid,
      kind: String(loaded.kind),
      stop: async () => {
        const status = await proc.stop();
        const line = proc.logs.find((l) => l.msg === "stopped");
        const stopped = line && flatten(line);
        // Exit status 4: stopped as asked, with spans or log records
        // dropped (an overload step).
        const expected = stopped && stopped.dropped + stopped.logsDropped > 0
          ? 4
          : 0;
        if (status.code !== expected || !stopped) {
          throw new Error(
            `The controller failed (exit code ${status.code}); its log:\n${proc.dump()}`,
          );
        }
        return stopped;
      },
    };
  } catch (err) {
    try {
      proc.child.kill("SIGKILL");
    } catch {
      // It exited already.
    }
    await proc.wait();
    throw err;
  }
}

/** The logs URL beside a traces URL (…/v1/traces → …/v1/logs). */
export function logsUrl(tracesUrl: string): string {
  return tracesUrl.replace(/\/v1\/traces$/, "/v1/logs");
}

/** The `stopped` line's counters with its `logs` object flattened into `logs<Field>`. */
export function flatten(line: Record<string, unknown>): StoppedCounters {
  const { logs, ...rest } = line;
  const out: Record<string, unknown> = {
    ...rest,
    logsReceived: 0,
    logsExported: 0,
    logsDropped: 0,
  };
  for (const [name, n] of Object.entries(logs ?? {})) {
    out[`logs${name[0].toUpperCase()}${name.slice(1)}`] = n;
  }
  return out as StoppedCounters;
}

/** Options of {@linkcode startAgent}. */
export interface BenchAgentOptions {
  /** Traces every SDK-linked program under this directory (`--all --include-exe <dir>/**`). */
  dir: string;
  /** The bpffs directory for this benchmark run's pins. */
  pinRoot: string;
  /** The instance name (pin directory under pinRoot). */
  instance: string;
  /** Where spans are exported (OTLP/HTTP traces URL). */
  endpoint: string;
  /** Further flags, e.g. --telemetry. */
  args?: string[];
}

/**
 * Starts the node agent (`run --all`) with the V8 settings its launchers
 * give it; the caller waits for what it needs.
 */
export function startAgent(options: BenchAgentOptions): ControllerProcess {
  const proc = new ControllerProcess([
    "run",
    "--all",
    "--include-exe",
    `${options.dir}/**`,
    "--pin-root",
    options.pinRoot,
    "--instance",
    options.instance,
    "--no-status",
    ...options.args ?? [],
  ], {
    OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: options.endpoint,
    OTEL_EXPORTER_OTLP_LOGS_ENDPOINT: logsUrl(options.endpoint),
    DENO_V8_FLAGS: agentV8Flags,
  });
  track(proc.child);
  return proc;
}

/**
 * `spanbridge run`: attach to Go programs and export their spans until
 * interrupted.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { CliError, type Command, ExitCode } from "./command.ts";
import {
  createLogger,
  isLogLevel,
  type Logger,
  type LogLevel,
} from "../log.ts";
import {
  Controller,
  type ControllerStats,
  recordsLost,
} from "../controller/controller.ts";
import { createSinkFromEnv, type SpanSink } from "../export/mod.ts";
import { type ProcessFilterRules, TargetError } from "../process/mod.ts";
import { EnvironmentError, SysError } from "../ffi/mod.ts";
import { clearLine, StatusLine, writeErr } from "./status.ts";
import { parseSize } from "./size.ts";

const help = `spanbridge run: trace Go programs built with the spanbridge SDK

Usage:
  spanbridge run --target <exe> [--target <exe>...] [--pid <pid>...] [options]
  spanbridge run --all [filters] [options]

Targets (at least one):
  -t, --target <exe>    Every process running this executable, now or later
                        (env OTEL_GO_AUTO_TARGET_EXE); relative to the
                        directory the command was started in. It also matches
                        processes in containers whose executable is at that
                        path as they see it (their /proc/<pid>/exe); for a
                        path that exists only in containers use --all
                        --include-exe <path>.
  -p, --pid <pid>       One running process (env OTEL_GO_AUTO_TARGET_PID)
  -a, --all             Every process on the host, in any container, whose
                        executable contains the spanbridge SDK, now or later
                        (env SPANBRIDGE_ALL=true)

Filters for --all and --target (repeatable; env: comma-separated lists):
      --include-exe <glob>        Only executables whose path, as the process
                                  sees it, matches (* within a directory, **
                                  across; env SPANBRIDGE_INCLUDE_EXE)
      --exclude-exe <glob>        Never these (env SPANBRIDGE_EXCLUDE_EXE)
      --include-container <id>    Only processes in these containers: an id
                                  prefix (e.g. a 12-digit short id) or a glob
                                  (env SPANBRIDGE_INCLUDE_CONTAINER)
      --exclude-container <id>    Never these containers; "*" leaves only
                                  host processes (env SPANBRIDGE_EXCLUDE_CONTAINER)

Options:
      --ring-size <n>   Ring buffer size, e.g. 32M (default 32M; env SPANBRIDGE_RING_SIZE)
      --pin-root <dir>  bpffs directory for pins (default /sys/fs/bpf/spanbridge)
      --instance <name> Pin directory name under the pin root (default "default"); a
                        controller killed with SIGKILL is adopted by the next one of that name
      --duration <s>    Stop after this many seconds (default: run until SIGINT/SIGTERM)
      --log-level <l>   debug, info, warn or error (default info; env SPANBRIDGE_LOG_LEVEL)
      --log-format <f>  text or json (default: text on a terminal, json otherwise)
      --[no-]status     Live status line on stderr (default: on when stderr is a terminal)
  -h, --help            Show this help

Export is configured with the OpenTelemetry variables: OTEL_TRACES_EXPORTER
(otlp, console, none), OTEL_EXPORTER_OTLP_ENDPOINT, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT,
OTEL_EXPORTER_OTLP_PROTOCOL (http/protobuf, http/json), OTEL_EXPORTER_OTLP_HEADERS,
OTEL_EXPORTER_OTLP_TIMEOUT, OTEL_EXPORTER_OTLP_COMPRESSION, OTEL_SERVICE_NAME,
OTEL_RESOURCE_ATTRIBUTES. Resources carry container.id and k8s.pod.uid read
from each process's cgroup; K8S_NODE_NAME, when set, is host.name and
k8s.node.name (for an agent running in a container).

Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad usage or configuration,
3 missing privilege or kernel support.
`;

/** Options of one `run`, after flags and environment are merged. */
export interface RunOptions {
  exes: string[];
  /** The directory relative target paths are resolved against (default: the current one). */
  cwd?: string;
  pids: number[];
  /** Every SDK-linked process (`--all`). */
  all?: boolean;
  /** Which discovered processes to trace (default: every one). */
  filter?: ProcessFilterRules;
  ringBytes: number;
  pinRoot?: string;
  instance?: string;
  durationMs?: number;
  logLevel: LogLevel;
  logFormat?: "text" | "json";
  status: boolean;
}

/** Parses `run`'s flags, falling back to environment variables. */
export function parseRunArgs(
  args: string[],
  env: Record<string, string | undefined>,
): RunOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        target: { type: "string", short: "t", multiple: true },
        pid: { type: "string", short: "p", multiple: true },
        all: { type: "boolean", short: "a" },
        "include-exe": { type: "string", multiple: true },
        "exclude-exe": { type: "string", multiple: true },
        "include-container": { type: "string", multiple: true },
        "exclude-container": { type: "string", multiple: true },
        "ring-size": { type: "string" },
        "pin-root": { type: "string" },
        instance: { type: "string" },
        duration: { type: "string" },
        "log-level": { type: "string" },
        "log-format": { type: "string" },
        status: { type: "boolean" },
        "no-status": { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new CliError(
      `${(err as Error).message}. Run "spanbridge run --help".`,
      ExitCode.usage,
    );
  }
  if (values.help) throw new HelpRequested();

  const exes = values.target ?? listFromEnv(env.OTEL_GO_AUTO_TARGET_EXE);
  const pidTexts = values.pid ?? listFromEnv(env.OTEL_GO_AUTO_TARGET_PID);
  const pids = pidTexts.map((p) => {
    if (!/^[1-9][0-9]*$/.test(p)) {
      throw new CliError(
        `Invalid pid "${p}": expected a positive integer.`,
        ExitCode.usage,
      );
    }
    return Number(p);
  });
  const all = values.all ?? booleanFromEnv(env, "SPANBRIDGE_ALL");
  if (exes.length === 0 && pids.length === 0 && !all) {
    throw new CliError(
      "No target: pass --target <exe>, --pid <pid> or --all (or set OTEL_GO_AUTO_TARGET_EXE / OTEL_GO_AUTO_TARGET_PID / SPANBRIDGE_ALL=true).",
      ExitCode.usage,
    );
  }
  const rule = (flag: keyof typeof values, name: string) =>
    (values[flag] as string[] | undefined) ?? listFromEnv(env[name]);
  const filter: ProcessFilterRules = {
    includeExe: rule("include-exe", "SPANBRIDGE_INCLUDE_EXE"),
    excludeExe: rule("exclude-exe", "SPANBRIDGE_EXCLUDE_EXE"),
    includeContainer: rule("include-container", "SPANBRIDGE_INCLUDE_CONTAINER"),
    excludeContainer: rule("exclude-container", "SPANBRIDGE_EXCLUDE_CONTAINER"),
  };

  const logLevel = values["log-level"] ?? env.SPANBRIDGE_LOG_LEVEL ?? "info";
  if (!isLogLevel(logLevel)) {
    throw new CliError(
      `Invalid log level "${logLevel}": expected debug, info, warn or error.`,
      ExitCode.usage,
    );
  }
  const logFormat = values["log-format"];
  if (logFormat !== undefined && logFormat !== "text" && logFormat !== "json") {
    throw new CliError(
      `Invalid log format "${logFormat}": expected text or json.`,
      ExitCode.usage,
    );
  }
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    const seconds = Number(values.duration);
    if (!(seconds > 0)) {
      throw new CliError(
        `Invalid duration "${values.duration}": expected a positive number of seconds.`,
        ExitCode.usage,
      );
    }
    durationMs = seconds * 1000;
  }
  return {
    exes,
    // `deno task` and ./task run in the repository: INIT_CWD is where the
    // user typed the command.
    cwd: env.INIT_CWD || Deno.cwd(),
    pids,
    all,
    filter,
    ringBytes: parseSize(
      values["ring-size"] ?? env.SPANBRIDGE_RING_SIZE ?? "32M",
      "ring size",
    ),
    pinRoot: values["pin-root"],
    instance: values.instance,
    durationMs,
    logLevel,
    logFormat,
    status: values["no-status"]
      ? false
      : values.status ?? Deno.stderr.isTerminal(),
  };
}

class HelpRequested extends Error {}

function booleanFromEnv(
  env: Record<string, string | undefined>,
  name: string,
): boolean {
  const value = env[name]?.trim().toLowerCase();
  if (
    value === undefined || value === "" || value === "false" || value === "0"
  ) {
    return false;
  }
  if (value === "true" || value === "1") return true;
  throw new CliError(
    `Invalid ${name} "${env[name]}": expected true or false.`,
    ExitCode.usage,
  );
}

function listFromEnv(value: string | undefined): string[] {
  return value ? value.split(",").map((s) => s.trim()).filter(Boolean) : [];
}

/** The `run` command. */
export const runCommand: Command = {
  name: "run",
  summary: "Attach to Go programs and export their spans (the default)",
  help,
  async main(args) {
    let options: RunOptions;
    try {
      options = parseRunArgs(args, Deno.env.toObject());
    } catch (err) {
      if (err instanceof HelpRequested) {
        console.log(help);
        return ExitCode.ok;
      }
      return fail(err);
    }
    const log = createLogger({
      level: options.logLevel,
      format: options.logFormat,
      // With a status line on the terminal, each log line first erases it
      // (the status line redraws itself within a second).
      write: options.status
        ? (line) => writeErr(`${clearLine}${line}\n`)
        : undefined,
    });
    try {
      await run(options, log);
      return ExitCode.ok;
    } catch (err) {
      return fail(err, log);
    }
  },
};

/**
 * Runs the controller until SIGINT, SIGTERM or the duration ends, then
 * flushes the exporter and resolves with the final counters.
 */
export async function run(
  options: RunOptions,
  log: Logger,
): Promise<ControllerStats> {
  let sink: SpanSink;
  try {
    sink = createSinkFromEnv(Deno.env.toObject(), log);
  } catch (err) {
    throw new CliError((err as Error).message, ExitCode.usage);
  }
  const started = Date.now();
  let controller: Controller;
  try {
    controller = await Controller.start({
      targets: {
        exes: options.exes,
        cwd: options.cwd,
        pids: options.pids,
        all: options.all,
        filter: options.filter,
      },
      sink,
      log,
      pinRoot: options.pinRoot,
      instance: options.instance,
      ringBytes: options.ringBytes,
    });
  } catch (err) {
    await sink.shutdown();
    throw err;
  }

  const status = options.status
    ? new StatusLine(() => controller.stats())
    : undefined;
  const stopped = Promise.withResolvers<string>();
  const onSignal = (name: string) => () => stopped.resolve(name);
  const signals = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]] as const;
  for (const [sig, handler] of signals) Deno.addSignalListener(sig, handler);
  const timer = options.durationMs === undefined
    ? undefined
    : setTimeout(() => stopped.resolve("duration elapsed"), options.durationMs);

  const reason = await stopped.promise;
  clearTimeout(timer);
  for (const [sig, handler] of signals) Deno.removeSignalListener(sig, handler);
  status?.close();
  log.info("stopping", { reason });
  await controller.stop();
  await sink.shutdown();
  const stats = controller.stats();
  log.info("stopped", summaryFields(stats, Date.now() - started));
  return stats;
}

/**
 * The counters a user wants at exit, as flat log fields. Spans: received from
 * the ring, exported, dropped by the exporter (and why: queue full, export
 * failed, refused by the receiver, still queued at shutdown). Records (whole
 * batches): lost in the kernel (ring full, oversize, unreadable) or corrupt.
 */
export function summaryFields(
  stats: ControllerStats,
  elapsedMs: number,
): Record<string, number> {
  return {
    seconds: Math.round(elapsedMs / 100) / 10,
    received: stats.decode.spans,
    exported: stats.export.exported,
    dropped: stats.export.dropped,
    droppedQueueFull: stats.export.droppedBy.queue_full,
    droppedExportFailed: stats.export.droppedBy.export_failed,
    droppedRejected: stats.export.droppedBy.rejected,
    droppedShutdown: stats.export.droppedBy.shutdown,
    recordsLost: recordsLost(stats),
    recordsCorrupt: stats.decode.corrupt,
  };
}

function fail(err: unknown, log?: Logger): number {
  const code = err instanceof CliError ? err.exitCode : exitCodeOf(err);
  const message = err instanceof Error ? err.message : String(err);
  if (log) log.error(message);
  else console.error(`spanbridge: ${message}`);
  return code;
}

/** errno values that mean "this machine lacks a privilege or a kernel feature". */
const environmentErrnos = new Set([
  1, /* EPERM */
  13, /* EACCES */
  19, /* ENODEV */
  38, /* ENOSYS */
  95, /* EOPNOTSUPP */
  524, /* ENOTSUPP */
]);

function exitCodeOf(err: unknown): number {
  if (err instanceof TargetError) return ExitCode.usage;
  if (err instanceof EnvironmentError) return ExitCode.environment;
  if (err instanceof SysError && environmentErrnos.has(err.errno)) {
    return ExitCode.environment;
  }
  const code = (err as { exitCode?: unknown })?.exitCode;
  return typeof code === "number" ? code : ExitCode.failure;
}

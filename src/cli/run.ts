/**
 * `spanbridge run`: attach to Go programs and export their spans until
 * interrupted.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { type Command, ExitCode, exitCodeOf } from "./command.ts";
import {
  createLogger,
  defaultLogLevel,
  isLogLevel,
  type Logger,
  type LogLevel,
  routeProcessWarnings,
} from "../log.ts";
import { Redactor } from "../redact.ts";
import {
  Controller,
  type ControllerOptions,
  type ControllerStats,
  OTHER_SERVICES,
  recordsLost,
} from "../controller/mod.ts";
import {
  createSink,
  defaultBatchOptions,
  DROP_REASONS,
  type ExportConfig,
  exporterComponentType,
  exporterFor,
  type ExportSink,
  grpcMaxRequestBodyBytes,
  maxBatchOptions,
  otlpDefaults,
  otlpTimeoutBounds,
  readExportConfig,
  type SignalExportConfig,
} from "../export/mod.ts";
import type { Signal } from "../otlp/mod.ts";
import {
  defaultExportFailingMs,
  defaultExportIntervalMs,
  readTelemetryConfig,
  Telemetry,
  telemetryBounds,
  type TelemetryConfig,
} from "../telemetry/mod.ts";
import {
  defaultExecRingBytes,
  defaultInstanceName,
  defaultPinRoot,
  defaultRingBytes,
  type ExecEventsOptions,
  execRingBytesBounds,
  type ProbeOptions,
  ringBytesBounds,
  validateExecEventsOptions,
  validateProbeOptions,
} from "../probe/mod.ts";
import { UsageError } from "../errors.ts";
import type { ProcessFilterRules } from "../process/mod.ts";
import { clearLine, StatusLine, writeErr } from "./status.ts";
import { formatSize as size, parseSize } from "./size.ts";
import { parseSampling } from "./sample.ts";

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

Sampling (repeatable, first match wins; env SPANBRIDGE_SAMPLE, comma-separated):
      --sample exe:<glob>=<ratio>
                        Processes whose executable path (as the process sees
                        it) matches keep this ratio of their traces, 0 to 1
      --sample container:<id>=<ratio>
                        The same for a container id prefix or glob
      --sample <ratio>  Processes no rule matches (default 1)
                        Each process's ratio is chosen once. A trace is kept
                        when the low 56 bits of its id are below ratio * 2^56
                        (the spanbridge Go SDK's TraceIDRatioBased), so every
                        node keeps or drops it alike. Sampled-out spans are
                        counted as sampledOut, not as dropped.

Options:
      --ring-size <n>   Ring buffer size, a power of two from ${
  size(ringBytesBounds.min)
} to ${size(ringBytesBounds.max)}
                        (default ${
  size(defaultRingBytes)
}; env SPANBRIDGE_RING_SIZE); with --all, env
                        SPANBRIDGE_EXEC_RING_SIZE sizes the exec event ring
                        (a power of two from ${
  size(execRingBytesBounds.min)
} to ${size(execRingBytesBounds.max)}, default ${size(defaultExecRingBytes)})
      --pin-root <dir>  bpffs directory for pins (default ${defaultPinRoot})
      --instance <name> Pin directory name under the pin root: letters, digits, "-"
                        (default "${defaultInstanceName}"); a controller killed with SIGKILL is adopted
                        by the next one of that name; a running one is never shared
      --duration <s>    Stop after this many seconds (default: run until SIGINT, SIGTERM
                        or SIGHUP)
      --log-level <l>   debug, info, warn or error (default ${defaultLogLevel}; env SPANBRIDGE_LOG_LEVEL,
                        else OTEL_LOG_LEVEL)
      --log-format <f>  text or json (default: text on a terminal, json otherwise)
      --[no-]status     Live status line on stderr (default: on when stderr is a terminal)
      --telemetry <addr> Serve /healthz, /readyz and /metrics on PORT (loopback) or
                        HOST:PORT (env SPANBRIDGE_TELEMETRY; off by default); not ready
                        once export has failed for SPANBRIDGE_TELEMETRY_EXPORT_FAILING
                        seconds (${
  telemetryBounds.exportFailingMs.min / 1000
} to ${telemetryBounds.exportFailingMs.max / 1000}, default ${
  defaultExportFailingMs / 1000
}); OTEL_METRICS_EXPORTER=otlp also
                        pushes the metrics over OTLP every OTEL_METRIC_EXPORT_INTERVAL
                        ms (${telemetryBounds.exportIntervalMs.min} to ${telemetryBounds.exportIntervalMs.max}, default ${defaultExportIntervalMs})
  -h, --help            Show this help

Export is configured with the OpenTelemetry variables; each OTEL_EXPORTER_OTLP_*
one may also be given as OTEL_EXPORTER_OTLP_TRACES_*, which wins:
  OTEL_SDK_DISABLED=true          export nothing (spans are counted, then discarded);
                                  only true or false
  OTEL_TRACES_EXPORTER            otlp (default), console or none
  OTEL_EXPORTER_OTLP_ENDPOINT     where spans go (default ${otlpDefaults.endpoint};
                                  ${otlpDefaults.grpcEndpoint} over grpc)
  OTEL_EXPORTER_OTLP_PROTOCOL     ${otlpDefaults.protocol} (default), http/json or grpc
  OTEL_EXPORTER_OTLP_HEADERS      key=value,... (values percent-encoded; never printed)
  OTEL_EXPORTER_OTLP_TIMEOUT      ms per export, 1 to ${otlpTimeoutBounds.max} (default ${otlpDefaults.timeoutMillis})
  OTEL_EXPORTER_OTLP_COMPRESSION  gzip or none (default ${otlpDefaults.compression})
  OTEL_EXPORTER_OTLP_CERTIFICATE  PEM file of the CA certificates to trust (https)
  OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE, OTEL_EXPORTER_OTLP_CLIENT_KEY
                                  PEM files of a client certificate (mutual TLS)
  OTEL_BSP_MAX_QUEUE_SIZE         spans queued at most, up to ${maxBatchOptions.spans} (default ${defaultBatchOptions.maxQueueSpans})
  OTEL_BSP_MAX_EXPORT_BATCH_SIZE  spans per request at most, up to ${maxBatchOptions.spans} (default ${defaultBatchOptions.maxBatchSpans})
  OTEL_BSP_SCHEDULE_DELAY         ms before a partial batch is sent, 1 to ${maxBatchOptions.delayMs} (default ${defaultBatchOptions.scheduleDelayMs})
  SPANBRIDGE_MAX_QUEUE_BYTES      span, log record and resource bytes queued and in
                                  flight at most, both signals together, up to ${
  size(maxBatchOptions.queueBytes)
} (default ${size(defaultBatchOptions.maxQueueBytes)})
  SPANBRIDGE_MAX_EXPORT_BATCH_BYTES
                                  bytes per request to aim for, up to ${
  size(maxBatchOptions.bytes)
} (default ${size(defaultBatchOptions.maxBatchBytes)})
  SPANBRIDGE_MAX_REQUEST_BODY_BYTES
                                  bytes per request at most, up to ${
  size(maxBatchOptions.requestBodyBytes)
} (default ${size(defaultBatchOptions.maxRequestBodyBytes)};
                                  ${size(grpcMaxRequestBodyBytes)} over grpc)
  SPANBRIDGE_MAX_RESOURCE_CACHE_BYTES
                                  merged resources remembered at most, up to ${
  size(maxBatchOptions.bytes)
} (default ${size(defaultBatchOptions.maxResourceCacheBytes)})
  OTEL_BSP_EXPORT_TIMEOUT         refused: set OTEL_EXPORTER_OTLP_TIMEOUT instead
Log records (from sdk.LoggerProvider) have an export of their own, to /v1/logs:
  OTEL_LOGS_EXPORTER              otlp (default), console or none
  OTEL_EXPORTER_OTLP_LOGS_*       as OTEL_EXPORTER_OTLP_*, which they win over
  OTEL_BLRP_MAX_QUEUE_SIZE, OTEL_BLRP_MAX_EXPORT_BATCH_SIZE, OTEL_BLRP_SCHEDULE_DELAY
                                  their queue, as OTEL_BSP_* (the SPANBRIDGE_MAX_*
                                  bytes bound each queue on its own)
  OTEL_SERVICE_NAME, OTEL_RESOURCE_ATTRIBUTES
                                  merged into each process's resource
  OTEL_LOG_LEVEL                  the log level when --log-level and
                                  SPANBRIDGE_LOG_LEVEL are not set
Resources carry container.id and k8s.pod.uid read from each process's cgroup;
K8S_NODE_NAME, when set, is host.name and k8s.node.name (for an agent running
in a container).

Exit codes: 0 stopped cleanly, 1 runtime failure, 2 bad usage, configuration or
target, 3 missing privilege or kernel support, 4 stopped but spans were dropped
(queue full, refused by the collector, undeliverable at stop: see the "stopped" line).
`;

/** The largest pid Linux hands out (PID_MAX_LIMIT on 64-bit). */
const maxPid = 4_194_304;

/**
 * Options of one `run`, after flags and environment are merged and
 * validated: one object per component, each handed on whole (no component
 * checks or renames them again).
 */
export interface RunOptions {
  /** The controller: targets (with how process starts are watched) and probe. */
  controller: ControllerOptions;
  /** The validated OTEL_* export configuration. */
  export: ExportConfig;
  /** The health and metrics listener, when asked for. */
  telemetry?: TelemetryConfig;
  /** Log level and format (`--log-level`, `--log-format`). */
  log: { level: LogLevel; format?: "text" | "json" };
  /** Draw a status line on standard error. */
  status: boolean;
  /** Stop after this long; default: at SIGINT or SIGTERM. */
  durationMs?: number;
}

/**
 * Parses `run`'s flags, falling back to the variables of `env` (the process
 * environment, read once by the caller). Throws a {@linkcode UsageError}
 * naming the bad flag or variable.
 */
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
        telemetry: { type: "string" },
        sample: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new UsageError(
      `${(err as Error).message}. Run "spanbridge run --help".`,
    );
  }
  if (values.help) throw new HelpRequested();

  const exes = values.target ?? listFromEnv(env.OTEL_GO_AUTO_TARGET_EXE);
  const pidTexts = values.pid ?? listFromEnv(env.OTEL_GO_AUTO_TARGET_PID);
  const pids = pidTexts.map((p) => {
    if (!/^[1-9][0-9]*$/.test(p) || Number(p) > maxPid) {
      throw new UsageError(
        `Invalid pid "${p}": expected a whole number from 1 to ${maxPid}.`,
      );
    }
    return Number(p);
  });
  const all = values.all ?? booleanFromEnv(env, "SPANBRIDGE_ALL");
  if (exes.length === 0 && pids.length === 0 && !all) {
    throw new UsageError(
      "No target: pass --target <exe>, --pid <pid> or --all (or set OTEL_GO_AUTO_TARGET_EXE / OTEL_GO_AUTO_TARGET_PID / SPANBRIDGE_ALL=true).",
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

  const sampling = values.sample
    ? parseSampling(values.sample, "--sample")
    : env.SPANBRIDGE_SAMPLE?.trim()
    ? parseSampling(listFromEnv(env.SPANBRIDGE_SAMPLE), "SPANBRIDGE_SAMPLE")
    : undefined;

  const logLevel = values["log-level"] ?? env.SPANBRIDGE_LOG_LEVEL ??
    otelLogLevel(env.OTEL_LOG_LEVEL) ?? defaultLogLevel;
  if (!isLogLevel(logLevel)) {
    throw new UsageError(
      `Invalid log level "${logLevel}": expected debug, info, warn or error.`,
    );
  }
  const logFormat = values["log-format"];
  if (logFormat !== undefined && logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(
      `Invalid log format "${logFormat}": expected text or json.`,
    );
  }
  let durationMs: number | undefined;
  if (values.duration !== undefined) {
    const seconds = Number(values.duration);
    if (!(seconds > 0) || seconds * 1000 > 2 ** 31 - 1) {
      throw new UsageError(
        `Invalid duration "${values.duration}": expected a positive number of seconds (at most 24 days).`,
      );
    }
    durationMs = seconds * 1000;
  }
  const ringText = values["ring-size"] ?? env.SPANBRIDGE_RING_SIZE;
  // Only what was given: the defaults are the probe's.
  const probe: ProbeOptions = {
    ...(values["pin-root"] !== undefined && { pinRoot: values["pin-root"] }),
    ...(values.instance !== undefined && { name: values.instance }),
    ...(ringText !== undefined &&
      { ringBytes: parseSize(ringText, "ring size") }),
  };
  const probeProblem = validateProbeOptions(probe);
  if (probeProblem) throw new UsageError(probeProblem);
  const execRingText = env.SPANBRIDGE_EXEC_RING_SIZE;
  const execEvents: ExecEventsOptions = execRingText === undefined ? {} : {
    ringBytes: parseSize(execRingText, "SPANBRIDGE_EXEC_RING_SIZE"),
  };
  const execProblem = validateExecEventsOptions(execEvents);
  if (execProblem) throw new UsageError(execProblem);
  let exportConfig: ExportConfig;
  try {
    exportConfig = readExportConfig(env);
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  let telemetry: TelemetryConfig | undefined;
  try {
    telemetry = readTelemetryConfig(
      values.telemetry,
      env,
      exportConfig.resource.k8sNodeName,
    );
  } catch (err) {
    throw new UsageError((err as Error).message, { cause: err });
  }
  return {
    controller: {
      targets: {
        exes,
        // `deno task` and ./task run in the repository: INIT_CWD is where
        // the user typed the command.
        cwd: env.INIT_CWD || Deno.cwd(),
        pids,
        all,
        filter,
      },
      probe,
      execEvents,
      ...(sampling && { sampling }),
    },
    export: exportConfig,
    telemetry,
    log: { level: logLevel, format: logFormat },
    status: values["no-status"]
      ? false
      : values.status ?? Deno.stderr.isTerminal(),
    durationMs,
  };
}

/**
 * OTEL_LOG_LEVEL in our levels: the OpenTelemetry names (none, error, warn,
 * info, debug, verbose, all); "none" keeps errors, which are never silenced.
 */
function otelLogLevel(value: string | undefined): string | undefined {
  const v = value?.trim().toLowerCase();
  if (!v) return undefined;
  const levels: Record<string, LogLevel> = {
    none: "error",
    error: "error",
    warn: "warn",
    info: "info",
    debug: "debug",
    verbose: "debug",
    all: "debug",
  };
  if (!Object.hasOwn(levels, v)) {
    throw new UsageError(
      `Invalid OTEL_LOG_LEVEL: "${value}" is not one of none, error, warn, info, debug, verbose, all`,
    );
  }
  return levels[v];
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
  throw new UsageError(
    `Invalid ${name} "${env[name]}": expected true or false.`,
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
    const env = Deno.env.toObject();
    let options: RunOptions;
    try {
      options = parseRunArgs(args, env);
    } catch (err) {
      if (err instanceof HelpRequested) {
        console.log(help);
        return ExitCode.ok;
      }
      // The same format as every later line: a wrapper that reads JSON lines
      // gets JSON for a bad flag too.
      return fail(err, createLogger({ format: logFormatIn(args) }));
    }
    // No line may show the endpoints' credentials or the headers' values.
    const secrets = new Redactor([
      options.export.otlp,
      options.export.logs.otlp,
      ...(options.telemetry?.otlp ? [options.telemetry.otlp.transport] : []),
    ]);
    const log = createLogger({
      ...options.log,
      // With a status line on the terminal, each log line first erases it
      // (the status line redraws itself within a second).
      write: options.status
        ? (line) => writeErr(`${clearLine}${line}\n`)
        : undefined,
      redact: (line) => secrets.text(line),
    });
    const unroute = routeProcessWarnings(log);
    try {
      const stats = await run(options, log);
      return stats.export.dropped + stats.logExport.dropped > 0
        ? ExitCode.dropped
        : ExitCode.ok;
    } catch (err) {
      return fail(err, log);
    } finally {
      unroute();
    }
  },
};

/** The --log-format of arguments that did not parse, when it can be found. */
function logFormatIn(args: string[]): "text" | "json" | undefined {
  for (const [i, a] of args.entries()) {
    const v = a.startsWith("--log-format=")
      ? a.slice("--log-format=".length)
      : a === "--log-format"
      ? args[i + 1]
      : undefined;
    if (v === "text" || v === "json") return v;
  }
  return undefined;
}

/** How long the exporter may deliver what is queued after a stop. */
const flushMs = 10_000;

/**
 * Runs the controller until SIGINT, SIGTERM, SIGHUP or the duration ends, then
 * flushes the exporter and resolves with the final counters. A second signal
 * during the stop cuts the flush short (what is still queued is counted as
 * dropped); the pins are removed and the `stopped` line is logged all the
 * same.
 */
export async function run(
  options: RunOptions,
  log: Logger,
): Promise<ControllerStats> {
  const telemetry = options.telemetry &&
    await Telemetry.start(options.telemetry, log);
  /** The exporter of `signal`, watched for readiness and export latency. */
  const watched = (signal: Signal, config: SignalExportConfig) =>
    telemetry?.exports.wrap(
      exporterFor(config),
      signal,
      exporterComponentType(config, signal),
    );
  const sink: ExportSink = createSink(options.export, {
    log,
    exporter: watched("traces", options.export),
    logExporter: watched("logs", options.export.logs),
  });
  const started = Date.now();
  // Listening from the start: a signal while the probe loads stops the
  // controller once it is up, instead of killing it with its pins in place.
  const stopped = Promise.withResolvers<string>();
  const hurry = Promise.withResolvers<string>();
  let stopping = false;
  const stop = (reason: string) => {
    if (stopping) hurry.resolve(reason);
    stopping = true;
    stopped.resolve(reason);
  };
  const onSignal = (name: string) => () => stop(name);
  // SIGHUP too: a terminal that goes away must not leave the pins behind.
  const listeners = [
    ["SIGINT", onSignal("SIGINT")],
    ["SIGTERM", onSignal("SIGTERM")],
    ["SIGHUP", onSignal("SIGHUP")],
  ] as const;
  for (const [sig, handler] of listeners) Deno.addSignalListener(sig, handler);
  try {
    let controller: Controller;
    try {
      controller = await Controller.start(options.controller, { sink, log });
    } catch (err) {
      await sink.shutdown(0);
      await telemetry?.close();
      throw err;
    }
    telemetry?.attach(controller);

    const status = options.status
      ? new StatusLine(() => controller.stats())
      : undefined;
    const timer = options.durationMs === undefined ? undefined : setTimeout(
      () => stop("duration elapsed"),
      options.durationMs,
    );

    const reason = await stopped.promise;
    clearTimeout(timer);
    status?.close();
    log.info("stopping", { reason });
    await controller.stop();
    const flushed = await Promise.race([
      sink.flush(flushMs).then(() => undefined),
      hurry.promise,
    ]);
    if (flushed !== undefined) {
      log.warn("second signal: stopping without waiting for delivery", {
        signal: flushed,
      });
    }
    await sink.shutdown(flushed === undefined ? flushMs : 0);
    await telemetry?.close();
    const stats = controller.stats();
    log.info("stopped", summaryFields(stats, Date.now() - started));
    return stats;
  } finally {
    for (const [sig, handler] of listeners) {
      Deno.removeSignalListener(sig, handler);
    }
  }
}

/** Services named in the `stopped` line's batchesLostByService; the rest are summed as other. */
const servicesNamed = 10;

/**
 * The counters a user wants at exit, as log fields. Spans: received from
 * the ring, exported, dropped by the exporter (and why: queue full, too large
 * for a request, export failed, refused by the receiver, still queued at
 * shutdown); log records the same, in `logs` (received = exported +
 * dropped for each signal once stopped), spans sampled out by `--sample`. Records (whole batches): lost in the kernel (ring full,
 * oversize, unreadable) or corrupt; and the batches lost before they were
 * read as the SDK's per-process sequence counts them, by service (the
 * services that lost the most, then the rest).
 */
export function summaryFields(
  stats: ControllerStats,
  elapsedMs: number,
): Record<string, number | Record<string, number>> {
  return {
    seconds: Math.round(elapsedMs / 100) / 10,
    ...signalFields(stats.decode.spans, stats.export),
    logs: signalFields(stats.decode.logRecords, stats.logExport),
    // Asked for, not lost: received = exported + dropped + sampledOut.
    sampledOut: stats.sampling?.sampledOut ?? 0,
    recordsLost: recordsLost(stats),
    recordsCorrupt: stats.decode.corrupt,
    batchesLost: stats.batchLoss.lost,
    ...(stats.batchLoss.lost > 0 && {
      batchesLostByService: topServices(
        stats.batchLoss.lostByService,
        servicesNamed,
      ),
    }),
    // Only when they happened: batches that came out of order in time to
    // count as received, and any that came after being counted lost.
    ...(stats.batchLoss.reordered > 0 &&
      { batchesReordered: stats.batchLoss.reordered }),
    ...(stats.batchLoss.late > 0 && { batchesLate: stats.batchLoss.late }),
    // Discovery's losses: processes that may have gone unseen or untraced.
    execEventsLost: stats.discovery?.execEventsLost ?? 0,
    processesUntraced: stats.discovery?.untraced ?? 0,
    // Per reason, only the reasons that happened (e.g. corruptBadMagic).
    ...Object.fromEntries(
      Object.entries(stats.decode.corruptBy).filter(([, n]) => n > 0).map((
        [reason, n],
      ) => [
        `corrupt${
          reason.replace(/(^|_)([a-z])/g, (_, _u, c) => c.toUpperCase())
        }`,
        n,
      ]),
    ),
  };
}

/**
 * Received, exported and dropped of one signal, then droppedQueueFull,
 * droppedTooLarge, ... in DROP_REASONS' order.
 */
function signalFields(
  received: number,
  counters: ControllerStats["export"],
): Record<string, number> {
  return {
    received,
    exported: counters.exported,
    dropped: counters.dropped,
    ...Object.fromEntries(
      DROP_REASONS.map(({ reason }) => [
        `dropped${
          reason.split("_").map((w) => w[0].toUpperCase() + w.slice(1)).join(
            "",
          )
        }`,
        counters.droppedBy[reason],
      ]),
    ),
  };
}

/** The `n` largest counts of `byService`, the rest summed as OTHER_SERVICES. */
function topServices(
  byService: Record<string, number>,
  n: number,
): Record<string, number> {
  const sorted = Object.entries(byService).sort(([, a], [, b]) => b - a);
  const top = Object.fromEntries(
    sorted.filter(([name]) => name !== OTHER_SERVICES).slice(0, n),
  );
  const rest = sorted.filter(([name]) => !(name in top))
    .reduce((sum, [, count]) => sum + count, 0);
  return rest > 0 ? { ...top, [OTHER_SERVICES]: rest } : top;
}

function fail(err: unknown, log: Logger): number {
  log.error(err instanceof Error ? err.message : String(err));
  return exitCodeOf(err);
}

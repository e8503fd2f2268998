/**
 * Structured logging for the controller: one line per event, human-readable
 * text on a terminal and JSON lines otherwise, on standard error.
 *
 * @module
 */

import process from "node:process";

/** How much to log, from most to least verbose. */
export type LogLevel = "debug" | "info" | "warn" | "error";

const ranks: Record<LogLevel, number> = {
  debug: 0,
  info: 1,
  warn: 2,
  error: 3,
};

/** Extra key/value fields attached to a log line. */
export type LogFields = Record<string, unknown>;

/** A logger writing to standard error. */
export interface Logger {
  debug(msg: string, fields?: LogFields): void;
  info(msg: string, fields?: LogFields): void;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, fields?: LogFields): void;
}

/** The level logged unless told otherwise. */
export const defaultLogLevel: LogLevel = "info";

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. Default {@linkcode defaultLogLevel}. */
  level?: LogLevel;
  /** "text" or "json"; default: text when stderr is a terminal. */
  format?: "text" | "json";
  /**
   * Where lines go; default standard error. Tests pass their own. A write
   * that throws (standard error closed, e.g. piped into `head`) turns
   * logging off rather than failing the caller, which may be cleaning up.
   */
  write?: (line: string) => void;
  /** Applied to every line before it is written: the CLI removes secrets with it (src/redact.ts). */
  redact?: (line: string) => string;
}

/** Returns true when `s` names a log level. */
export function isLogLevel(s: string): s is LogLevel {
  // Own keys only: `in` would also take "__proto__" or "toString".
  return Object.hasOwn(ranks, s);
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ranks[options.level ?? defaultLogLevel];
  const format = options.format ??
    (Deno.stderr.isTerminal() ? "text" : "json");
  const encoder = new TextEncoder();
  const output = options.write ??
    ((line: string) => writeAll(encoder.encode(line + "\n")));
  let closed = false;
  const redact = options.redact ?? ((line: string) => line);
  const write = (line: string) => {
    if (closed) return;
    try {
      output(redact(line));
    } catch {
      closed = true;
    }
  };
  const emit = (level: LogLevel, msg: string, fields: LogFields = {}) => {
    if (ranks[level] < min) return;
    const time = new Date().toISOString();
    if (format === "json") {
      write(JSON.stringify({ time, level, msg, ...fields }, bigintReplacer));
      return;
    }
    const extra = Object.entries(fields)
      .map(([k, v]) => ` ${k}=${formatValue(v)}`)
      .join("");
    write(
      `${time.slice(11, 23)} ${level.toUpperCase().padEnd(5)} ${msg}${extra}`,
    );
  };
  return {
    debug: (msg, fields) => emit("debug", msg, fields),
    info: (msg, fields) => emit("info", msg, fields),
    warn: (msg, fields) => emit("warn", msg, fields),
    error: (msg, fields) => emit("error", msg, fields),
  };
}

function writeAll(bytes: Uint8Array): void {
  for (let n = 0; n < bytes.length;) {
    n += Deno.stderr.writeSync(bytes.subarray(n));
  }
}

/**
 * Sends Node-style process warnings (`process.emitWarning`, e.g. Node's
 * TimeoutOverflowWarning from a library's timer) to `log` as warn lines:
 * Deno prints them as plain text otherwise, in the middle of a JSON log, and
 * a listener on the "warning" event does not stop that. Returns a function
 * that puts the previous behaviour back.
 */
export function routeProcessWarnings(log: Logger): () => void {
  const original = process.emitWarning;
  process.emitWarning = ((
    warning: string | Error,
    type?: string | { type?: string },
  ) => {
    const name = typeof type === "string"
      ? type
      : type?.type ?? (warning instanceof Error ? warning.name : "Warning");
    const message = warning instanceof Error ? warning.message : `${warning}`;
    log.warn(message.replaceAll("\n", " "), { warning: name });
  }) as typeof process.emitWarning;
  return () => {
    process.emitWarning = original;
  };
}

/** A logger that drops everything, for tests and library use. */
export const silentLogger: Logger = createLogger({
  level: "error",
  write: () => {},
});

function bigintReplacer(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

function formatValue(v: unknown): string {
  if (typeof v === "string") return /[\s"=]/.test(v) ? JSON.stringify(v) : v;
  if (v instanceof Error) return JSON.stringify(v.message);
  return JSON.stringify(v, bigintReplacer) ?? String(v);
}

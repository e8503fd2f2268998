/**
 * Structured logging for the controller: one line per event, human-readable
 * text on a terminal and JSON lines otherwise, on standard error.
 *
 * @module
 */

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

/** Options of {@linkcode createLogger}. */
export interface LoggerOptions {
  /** Lines below this level are dropped. Default "info". */
  level?: LogLevel;
  /** "text" or "json"; default: text when stderr is a terminal. */
  format?: "text" | "json";
  /**
   * Where lines go; default standard error. Tests pass their own. A write
   * that throws (standard error closed, e.g. piped into `head`) turns
   * logging off rather than failing the caller, which may be cleaning up.
   */
  write?: (line: string) => void;
}

/** Returns true when `s` names a log level. */
export function isLogLevel(s: string): s is LogLevel {
  return s in ranks;
}

/** Creates a logger. */
export function createLogger(options: LoggerOptions = {}): Logger {
  const min = ranks[options.level ?? "info"];
  const format = options.format ??
    (Deno.stderr.isTerminal() ? "text" : "json");
  const encoder = new TextEncoder();
  const output = options.write ??
    ((line: string) => writeAll(encoder.encode(line + "\n")));
  let closed = false;
  const write = (line: string) => {
    if (closed) return;
    try {
      output(line);
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

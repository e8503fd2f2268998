/**
 * The live status line `spanbridge run` keeps at the bottom of a terminal:
 * targets, spans per second, exported, queued and dropped (and log records
 * exported and dropped, once any came), redrawn once a
 * second, and never wider than the terminal (a wrapped line could not be
 * erased and would leave a stale copy every second).
 *
 * @module
 */
import { type ControllerStats, recordsLost } from "../controller/mod.ts";

/**
 * Formats one status line from two snapshots taken `elapsedMs` apart, at
 * most `columns - 1` characters wide (the last column would wrap on some
 * terminals): short labels first, then the least important items go.
 */
export function formatStatus(
  now: ControllerStats,
  before: ControllerStats | undefined,
  elapsedMs: number,
  columns = Infinity,
): string {
  const rate = before && elapsedMs > 0
    ? Math.round((now.decode.spans - before.decode.spans) * 1000 / elapsedMs)
    : 0;
  const queued = now.export.queued + now.export.inFlight;
  // [long, short, importance (higher stays longer)]
  const items: [string, string, number][] = [
    [`binaries ${now.binaries}`, `${now.binaries} bin`, 1],
    [`processes ${now.processes}`, `${now.processes} proc`, 2],
    [`${rate} spans/s`, `${rate}/s`, 6],
    [`received ${now.decode.spans}`, `rcv ${now.decode.spans}`, 4],
    [`exported ${now.export.exported}`, `exp ${now.export.exported}`, 5],
    [`queued ${queued}`, `q ${queued}`, 3],
    [`dropped ${now.export.dropped}`, `drop ${now.export.dropped}`, 8],
    [`records lost ${recordsLost(now)}`, `lost ${recordsLost(now)}`, 7],
  ];
  // Log records, once any came: exported and dropped.
  const logs = now.logExport;
  if (now.decode.logRecords > 0 || logs.dropped > 0) {
    items.push([
      `logs exported ${logs.exported}`,
      `logs ${logs.exported}`,
      4,
    ]);
    if (logs.dropped > 0) {
      items.push([
        `logs dropped ${logs.dropped}`,
        `ldrop ${logs.dropped}`,
        8,
      ]);
    }
  }
  const sampledOut = now.sampling?.sampledOut ?? 0;
  if (sampledOut > 0) {
    items.push([`sampled out ${sampledOut}`, `smp ${sampledOut}`, 3]);
  }
  if (now.decode.corrupt > 0) {
    items.push([
      `corrupt ${now.decode.corrupt}`,
      `bad ${now.decode.corrupt}`,
      7,
    ]);
  }
  const width = columns - 1;
  const long = items.map(([text]) => text).join(" · ");
  if (long.length <= width) return long;
  const short = items.map(([, text, importance]) => ({ text, importance }));
  const line = () => short.map((i) => i.text).join(" ");
  while (line().length > width && short.length > 1) {
    const least = short.reduce((a, b) => b.importance < a.importance ? b : a);
    short.splice(short.indexOf(least), 1);
  }
  return line().slice(0, Math.max(0, width));
}

/** Columns of the terminal on standard error (80 when unknown). */
function terminalColumns(): number {
  try {
    return Deno.consoleSize().columns || 80;
  } catch {
    return 80;
  }
}

/** The terminal sequence that erases the current line. */
export const clearLine = "\r\x1b[2K";

const encoder = new TextEncoder();

/** Writes `text` to standard error as is; a closed terminal is ignored (the stop must go on). */
export function writeErr(text: string): void {
  try {
    Deno.stderr.writeSync(encoder.encode(text));
  } catch {
    // The terminal hung up: nothing to draw on.
  }
}

/** Redraws {@linkcode formatStatus} on standard error once a second. */
export class StatusLine {
  readonly #timer: ReturnType<typeof setInterval>;
  #before: ControllerStats | undefined;
  #at = Date.now();

  /** Starts drawing; `stats` is called once per redraw. */
  constructor(stats: () => ControllerStats) {
    this.#timer = setInterval(() => {
      const now = stats();
      const at = Date.now();
      const line = formatStatus(
        now,
        this.#before,
        at - this.#at,
        terminalColumns(),
      );
      writeErr(`${clearLine}${line}`);
      this.#before = now;
      this.#at = at;
    }, 1000);
  }

  /** Stops drawing and clears the line. */
  close(): void {
    clearInterval(this.#timer);
    writeErr(clearLine);
  }
}

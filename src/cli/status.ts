/**
 * The live status line `spanbridge run` keeps at the bottom of a terminal:
 * targets, spans per second, exported and dropped, redrawn once a second.
 *
 * @module
 */
import { type ControllerStats, recordsLost } from "../controller/controller.ts";

/** Formats one status line from two snapshots taken `elapsedMs` apart. */
export function formatStatus(
  now: ControllerStats,
  before: ControllerStats | undefined,
  elapsedMs: number,
): string {
  const rate = before && elapsedMs > 0
    ? Math.round((now.decode.spans - before.decode.spans) * 1000 / elapsedMs)
    : 0;
  return [
    `binaries ${now.binaries}`,
    `processes ${now.processes}`,
    `${rate} spans/s`,
    `received ${now.decode.spans}`,
    `exported ${now.export.exported}`,
    `dropped ${now.export.dropped}`,
    `records lost ${recordsLost(now)}`,
  ].join(" · ");
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
      writeErr(`${clearLine}${formatStatus(now, this.#before, at - this.#at)}`);
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

/**
 * The attachment manager's task queue: one task at a time, in two lanes,
 * the first lane's tasks before any of the later one's. One process is
 * looked at at a time, so that the first binary of a burst is attached
 * soonest (its link covers every process that runs it, looked at or not),
 * and the processes of likely SDK binaries go first.
 *
 * @module
 */

/** The lanes: a task of the first runs before any waiting task of the later. */
export const Lane = { first: 0, later: 1 } as const;
/** One of {@linkcode Lane}. */
export type Lane = typeof Lane[keyof typeof Lane];

/** How long tasks run back to back before other work gets a turn (ms). */
const taskSliceMs = 20;

/** Runs tasks one at a time, first lane first. */
export class Lanes {
  readonly #lanes: (() => Promise<void>)[][] = [[], []];
  readonly #onError: (err: unknown) => void;
  #running = false;

  /** `onError` hears of each task that threw; the queue goes on. */
  constructor(onError: (err: unknown) => void) {
    this.#onError = onError;
  }

  /**
   * Runs `task` after the ones queued before it in its lane and after every
   * task of the first lane; resolves once it ran (failed or not).
   */
  enqueue(
    task: () => Promise<void> | void,
    lane: Lane = Lane.first,
  ): Promise<void> {
    const done = Promise.withResolvers<void>();
    this.#lanes[lane].push(async () => {
      try {
        await task();
      } catch (err) {
        this.#onError(err);
      } finally {
        done.resolve();
      }
    });
    if (!this.#running) void this.#run();
    return done.promise;
  }

  async #run(): Promise<void> {
    this.#running = true;
    let slice = performance.now();
    for (;;) {
      const task = this.#lanes[Lane.first].shift() ??
        this.#lanes[Lane.later].shift();
      if (!task) break;
      await task();
      // Tasks decided from memory make no system call: a storm's worth of
      // them would run back to back as microtasks, and the telemetry
      // listener (/healthz) waits for the event loop. Let it in.
      if (performance.now() - slice > taskSliceMs) {
        await new Promise((r) => setTimeout(r, 0));
        slice = performance.now();
      }
    }
    this.#running = false;
  }
}

/**
 * The controller's data path: probe → ring buffer → decoder → exporter, with
 * the counters of every stage in one place.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import { openProbe, type Probe, type ProbeCounters } from "../probe/mod.ts";
import { type DecodeCounters, Decoder } from "../decode/mod.ts";
import type { SpanBatch } from "../otlp/mod.ts";
import type { ExportCounters, ProcessMeta, SpanSink } from "../export/mod.ts";
import { LossWatch } from "./loss_watch.ts";
import { Processes } from "./processes.ts";
import { resolveTargets, Targets, type TargetSpec } from "./targets.ts";

/** Options of {@linkcode Controller.start}. */
export interface ControllerOptions {
  /** What to trace. */
  targets: TargetSpec;
  /** Where decoded spans go. */
  sink: SpanSink;
  /** Logger for lifecycle events and problems. */
  log: Logger;
  /** bpffs directory under which this instance pins its objects. */
  pinRoot?: string;
  /** Instance name: the pin directory under `pinRoot`. */
  instance?: string;
  /** Ring buffer size in bytes (a power of two, multiple of the page size). */
  ringBytes?: number;
  /** How long the reader sleeps at most before looking at the ring (ms). */
  pollMs?: number;
}

/** A snapshot of every counter, for the status line, logs and tests. */
export interface ControllerStats {
  /** Binaries the probe is attached to. */
  binaries: number;
  /** Processes that sent spans and still run. */
  processes: number;
  /** What the kernel side counted. */
  probe: ProbeCounters;
  /** What the decoder counted. */
  decode: DecodeCounters;
  /** What the exporter counted. */
  export: ExportCounters;
}

/** Records (whole batches) the kernel could not deliver: ring full, oversize, unreadable. */
export function recordsLost(stats: ControllerStats): number {
  return stats.probe.ringFull + stats.probe.oversize + stats.probe.readFaults;
}

/** Runs the data path until {@linkcode Controller.stop}. */
export class Controller {
  readonly #probe: Probe;
  readonly #targets: Targets;
  readonly #processes: Processes;
  readonly #decoder: Decoder;
  readonly #sink: SpanSink;
  readonly #log: Logger;
  readonly #pollMs: number;
  #stopping = false;
  #finalProbeCounters: ProbeCounters | undefined;
  #losses: LossWatch;
  #loop: Promise<void> = Promise.resolve();

  private constructor(probe: Probe, options: ControllerOptions) {
    this.#probe = probe;
    this.#log = options.log;
    this.#sink = options.sink;
    this.#pollMs = options.pollMs ?? 100;
    // Processes are described when found, not only when their first spans
    // arrive: a short-lived one may be gone by then.
    this.#targets = new Targets(
      probe,
      options.log,
      (pid) => void this.#processes.get(pid),
    );
    this.#processes = new Processes(
      (dev, ino) => this.#targets.binaryOf(dev, ino),
      (pid) => this.#log.debug("process exited", { pid }),
    );
    this.#losses = new LossWatch(options.log);
    this.#decoder = new Decoder({ maxPayloadBytes: probe.maxRecordBytes });
  }

  /**
   * Loads the probe, attaches it to the targets and starts reading. On
   * failure everything already set up is torn down before the error is thrown.
   */
  static async start(options: ControllerOptions): Promise<Controller> {
    const targets = await resolveTargets(options.targets);
    const probe = await openProbe({
      pinRoot: options.pinRoot,
      name: options.instance,
      ringBytes: options.ringBytes,
      log: options.log,
    });
    const controller = new Controller(probe, options);
    try {
      controller.#targets.attach(targets);
    } catch (err) {
      controller.#targets.close();
      probe.close();
      throw err;
    }
    controller.#loop = controller.#run();
    return controller;
  }

  /** Every counter, right now (after {@linkcode Controller.stop}: the final ones). */
  stats(): ControllerStats {
    return {
      binaries: this.#targets.attached.length,
      processes: this.#processes.size,
      probe: this.#finalProbeCounters ?? this.#probe.counters(),
      decode: this.#decoder.counters(),
      export: this.#sink.counters(),
    };
  }

  /**
   * Detaches, reads what the ring buffer still holds, hands it to the sink
   * and removes this instance's pins. The sink is not shut down here: its
   * owner decides how long to wait for delivery.
   */
  async stop(): Promise<void> {
    if (this.#stopping) return await this.#loop;
    this.#stopping = true;
    await this.#loop;
    this.#targets.close();
    await this.#deliver(this.#drain());
    this.#processes.close();
    this.#finalProbeCounters = this.#probe.counters();
    // Losses since the last periodic check are warned about too.
    this.#losses.check(this.#finalProbeCounters);
    this.#probe.close();
  }

  async #run(): Promise<void> {
    // The baseline is taken now, before the first wait: a burst that fills
    // the ring before the loop first wakes must still be warned about.
    this.#losses.check(this.#probe.counters());
    let lastCheck = Date.now();
    while (!this.#stopping) {
      await this.#probe.reader.wait(this.#pollMs);
      await this.#deliver(this.#drain());
      if (Date.now() - lastCheck >= 1_000) {
        lastCheck = Date.now();
        this.#losses.check(this.#probe.counters());
      }
    }
  }

  #drain(): { tgid: number; batch: SpanBatch }[] {
    const batches: { tgid: number; batch: SpanBatch }[] = [];
    this.#probe.reader.drain((record) => {
      const decoded = this.#decoder.decode(record);
      if (decoded) {
        batches.push({ tgid: decoded.header.tgid, batch: decoded.batch });
      }
    });
    return batches;
  }

  async #deliver(batches: { tgid: number; batch: SpanBatch }[]): Promise<void> {
    // One lookup per process and drain, not per record: at one span per
    // record there are hundreds of thousands of records a second.
    const metas = new Map<number, ProcessMeta>();
    for (const { tgid } of batches) {
      if (!metas.has(tgid)) metas.set(tgid, await this.#processes.get(tgid));
    }
    for (const { tgid, batch } of batches) {
      this.#sink.add(batch, metas.get(tgid)!);
    }
  }
}

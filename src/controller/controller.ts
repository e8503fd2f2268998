/**
 * The controller's data path: probe → ring buffer → decoder → exporter, with
 * the counters of every stage in one place.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import {
  type ExecEventsOptions,
  openProbe,
  type Probe,
  type ProbeCounters,
  type ProbeOptions,
} from "../probe/mod.ts";
import { resolveTargets, type TargetSpec } from "../process/mod.ts";
import { type DecodeCounters, Decoder } from "../decode/mod.ts";
import {
  decodeResource,
  type OtlpBatch,
  stringAttribute,
} from "../otlp/mod.ts";
import type { ExportCounters, ExportSink, ProcessMeta } from "../export/mod.ts";
import { BatchLoss, type BatchLossCounters } from "./batch_loss.ts";
import { LossWatch } from "./loss_watch.ts";
import { Processes } from "./processes.ts";
import {
  Sampler,
  type SamplingCounters,
  type SamplingOptions,
} from "./sampling.ts";
import { type DiscoveryStats, Targets } from "./targets.ts";

export type { DiscoveryStats } from "./targets.ts";
export type {
  SamplingCounters,
  SamplingOptions,
  SamplingRule,
  SamplingSelector,
} from "./sampling.ts";

/**
 * How the controller is configured: built and validated once (by the CLI)
 * and passed on whole; the controller hands `targets` and `probe` to their
 * owners as they are.
 */
export interface ControllerOptions {
  /** What to trace (src/controller/targets.ts). */
  targets: TargetSpec;
  /** The probe instance: pin root, instance name, ring size (src/probe). */
  probe: ProbeOptions;
  /** How process starts are watched, for executables and `--all` (src/probe). */
  execEvents?: ExecEventsOptions;
  /** How long the reader sleeps at most before looking at the ring (ms, default 100). */
  pollMs?: number;
  /**
   * How long stop() goes on moving records from the ring into the queue as
   * it drains, before the rest is read at once (ms, default 5000).
   */
  stopDrainMs?: number;
  /** Which ratio of traces each process keeps (default: every trace). */
  sampling?: SamplingOptions;
}

/** What the controller works with, as opposed to how it is configured. */
export interface ControllerDeps {
  /** Where decoded spans go. */
  sink: ExportSink;
  /** Logger for lifecycle events and problems. */
  log: Logger;
  /**
   * Loads the probe (default: src/probe's {@linkcode openProbe}). The seam
   * through which controller_test.ts runs the data path on a fake probe,
   * without root.
   */
  openProbe?: (options: ProbeOptions, log: Logger) => Promise<Probe>;
}

/** A snapshot of every counter, for the status line, logs and tests. */
export interface ControllerStats {
  /** Binaries the probe is attached to. */
  binaries: number;
  /** Processes found running a traced binary (or that sent spans), until they exit. */
  processes: number;
  /** What the kernel side counted. */
  probe: ProbeCounters;
  /** What the decoder counted. */
  decode: DecodeCounters;
  /** What the span exporter counted. */
  export: ExportCounters;
  /** What the log exporter counted (its "spans" are log records). */
  logExport: ExportCounters;
  /**
   * Batches lost before they were read, per process and service, from the
   * SDK's batch sequence (one per process for all signals: a lost batch may
   * have held spans or log records).
   */
  batchLoss: BatchLossCounters;
  /** How finding new processes keeps up (absent in snapshots made without a controller). */
  discovery?: DiscoveryStats;
  /**
   * Spans taken out by sampling (absent in snapshots made without a
   * controller): decode.spans = export.received + sampling.sampledOut.
   */
  sampling?: SamplingCounters;
}

/** A decoded record and the process that sent it. */
interface Decoded {
  tgid: number;
  /** The SDK's per-process batch sequence, one for all signals (undefined from an older SDK). */
  seq: number | undefined;
  batch: OtlpBatch;
}

/** Records read per drain call while the queue has room. */
const maxRecordsPerDrain = 4096;

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
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
  readonly #sink: ExportSink;
  readonly #log: Logger;
  readonly #pollMs: number;
  readonly #stopDrainMs: number;
  #stopping = false;
  /** True when the last drain left records in the ring for want of room. */
  #blocked = false;
  /** The most spans and bytes one record had so far (at least 1). */
  readonly #largest = { spans: 1, bytes: 1 };
  /** Records read that did not fit in the queue yet, oldest first. */
  #held: Decoded[] = [];
  /** Batch sequences of corrupt records read since the last delivery. */
  #corruptSeqs: { tgid: number; seq: number }[] = [];
  #finalProbeCounters: ProbeCounters | undefined;
  #losses: LossWatch;
  readonly #batchLoss = new BatchLoss();
  readonly #sampler: Sampler;
  #loop: Promise<void> = Promise.resolve();

  private constructor(
    probe: Probe,
    options: ControllerOptions,
    deps: ControllerDeps,
  ) {
    this.#probe = probe;
    this.#log = deps.log;
    this.#sink = deps.sink;
    this.#pollMs = options.pollMs ?? 100;
    this.#stopDrainMs = options.stopDrainMs ?? 5_000;
    // Processes are described when found, not only when their first spans
    // arrive: a short-lived one may be gone by then.
    this.#targets = new Targets(probe, deps.log, {
      traced: (pid) => void this.#processes.get(pid),
      describe: (pid) => this.#processes.get(pid),
      execed: (pid) => this.#processes.execed(pid),
    });
    this.#processes = new Processes(
      (dev, ino, pid) => this.#targets.binaryOf(dev, ino, pid),
      (pid) => this.#log.debug("process exited", { pid }),
    );
    this.#losses = new LossWatch(deps.log);
    this.#sampler = new Sampler(options.sampling, (meta, rule) => {
      if (rule.keepsAll) return;
      this.#log.debug("sampling process", {
        pid: meta.pid,
        exe: meta.exePath,
        container: meta.containerId,
        ratio: rule.ratio,
      });
    });
    this.#decoder = new Decoder({
      maxPayloadBytes: probe.maxRecordBytes,
      onCorrupt: (reason, detail, header, seq) => {
        this.#losses.corrupt(reason, detail);
        // Counted as corrupt, so not as lost too.
        if (header && seq !== undefined) {
          this.#corruptSeqs.push({ tgid: header.tgid, seq });
        }
      },
    });
  }

  /**
   * Loads the probe, attaches it to the targets and starts reading. On
   * failure everything already set up is torn down before the error is thrown.
   */
  static async start(
    options: ControllerOptions,
    deps: ControllerDeps,
  ): Promise<Controller> {
    const targets = await resolveTargets(options.targets);
    const probe = await (deps.openProbe ?? openProbe)(options.probe, deps.log);
    const controller = new Controller(probe, options, deps);
    try {
      controller.#targets.attach(targets, options.execEvents);
      // After a restart: trace only what this command asks for.
      probe.releaseUnclaimed();
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
      logExport: this.#sink.logCounters(),
      batchLoss: this.#batchLoss.counters(),
      discovery: this.#targets.discovery(),
      sampling: this.#sampler.counters(),
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
    // What waits in the ring goes on into the queue as it drains, for a
    // while; then everything left: what does not fit in the queue is counted
    // as dropped, not left in a ring that is about to be removed.
    const deadline = Date.now() + this.#stopDrainMs;
    for (;;) {
      await this.#deliver(this.#drain(this.#sink.room()));
      if (!this.#blocked || Date.now() >= deadline) break;
      await this.#sink.flush(this.#pollMs);
    }
    await this.#deliver(this.#drain());
    // Nothing more will come: what is still missing was lost.
    this.#batchLoss.finish();
    this.#losses.batches(this.#batchLoss.takeNew());
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
      // With the queue full, records wait in the ring (wait() would return
      // at once): the target loses only what overflows the ring, counted by
      // the kernel.
      if (this.#blocked) await delay(this.#pollMs);
      else await this.#probe.reader.wait(this.#pollMs);
      await this.#deliver(this.#drain(this.#sink.room()));
      // Only once the ring was read to its end and every record read was
      // seen: a batch still in the ring or held here is not missing.
      if (!this.#blocked && this.#held.length === 0) {
        this.#batchLoss.settle(Date.now());
      }
      if (Date.now() - lastCheck >= 1_000) {
        lastCheck = Date.now();
        this.#losses.check(this.#probe.counters());
        this.#losses.batches(this.#batchLoss.takeNew());
      }
    }
  }

  /**
   * Reads and decodes records, no more than fit in `room` (backpressure:
   * the rest stays in the ring until the queue has drained). How many
   * records fit is estimated from the largest record seen so far, and each
   * read at most doubles the records read before it, so a first estimate
   * that was too low costs little: a record that turns out not to fit is
   * held here, not dropped, and goes first once there is room. Without
   * `room`, everything held and everything in the ring is returned.
   */
  #drain(
    room?: { spans: number; bytes: number; empty: boolean },
  ): Decoded[] {
    const out: Decoded[] = [];
    const reader = this.#probe.reader;
    const left = { ...(room ?? { spans: Infinity, bytes: Infinity }) };
    const take = (item: Decoded) => {
      const { items: spans, bytes } = item.batch;
      // A record over the queue's bounds fits when the queue is empty.
      const alone = room?.empty === true && out.length === 0;
      if (
        this.#held.length > 0 ||
        (!alone && (spans > left.spans || bytes > left.bytes))
      ) {
        this.#held.push(item);
        return;
      }
      left.spans -= spans;
      left.bytes -= bytes;
      out.push(item);
    };
    const held = this.#held.splice(0);
    for (const item of held) take(item);
    const onRecord = (record: Uint8Array) => {
      const decoded = this.#decoder.decode(record);
      if (!decoded) return;
      const { items: spans, bytes } = decoded.batch;
      if (spans > this.#largest.spans) this.#largest.spans = spans;
      if (bytes > this.#largest.bytes) this.#largest.bytes = bytes;
      take({
        tgid: decoded.header.tgid,
        seq: decoded.seq,
        batch: decoded.batch,
      });
    };
    if (!room) {
      reader.drain(onRecord);
      return out;
    }
    this.#blocked = false;
    let read = 0;
    for (;;) {
      const budget = this.#held.length > 0 ? 0 : Math.min(
        Math.floor(left.spans / this.#largest.spans),
        Math.floor(left.bytes / this.#largest.bytes),
        Math.max(1, read),
        maxRecordsPerDrain,
      );
      if (budget <= 0) {
        this.#blocked = this.#held.length > 0 || reader.waitingBytes() > 0;
        return out;
      }
      const n = reader.drain(onRecord, budget);
      read += n;
      if (n < budget) return out;
    }
  }

  async #deliver(batches: Decoded[]): Promise<void> {
    // One lookup per process and drain, not per record: at one span per
    // record there are hundreds of thousands of records a second.
    const metas = new Map<number, ProcessMeta>();
    const corrupt = this.#corruptSeqs.splice(0);
    for (const { tgid } of batches) {
      if (!metas.has(tgid)) metas.set(tgid, await this.#processes.get(tgid));
    }
    for (const { tgid } of corrupt) {
      if (!metas.has(tgid)) metas.set(tgid, await this.#processes.get(tgid));
    }
    for (const { tgid, seq } of corrupt) {
      const meta = metas.get(tgid)!;
      this.#batchLoss.observe(
        meta.key ?? `${tgid}`,
        tgid,
        seq,
        () => meta.exeName ?? "unknown_service:go",
      );
    }
    for (const { tgid, seq, batch } of batches) {
      const meta = metas.get(tgid)!;
      if (seq !== undefined) {
        this.#batchLoss.observe(
          meta.key ?? `${tgid}`,
          tgid,
          seq,
          () => serviceOf(batch, meta),
        );
      }
      // After the sequence was observed: a batch sampled out whole arrived.
      const kept = this.#sampler.apply(batch, meta);
      if (kept) this.#sink.add(kept, meta);
    }
  }
}

/**
 * The service.name of a process's batches as the SDK sent it, or, for the
 * SDK's "unknown_service" default, the executable's name, as the exported
 * resource has it (an OTEL_SERVICE_NAME given to the controller itself is
 * not applied here).
 */
function serviceOf(batch: OtlpBatch, meta: ProcessMeta): string {
  const resource = batch.groups[0]?.resource;
  const sent = resource &&
    stringAttribute(decodeResource(resource).attributes, "service.name");
  if (sent && !sent.startsWith("unknown_service")) return sent;
  return meta.exeName ?? sent ?? "unknown_service:go";
}

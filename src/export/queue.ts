/**
 * A bounded, batching span queue in front of a {@linkcode SpanExporter}, in
 * the manner of OpenTelemetry's batch span processor but counted in spans and
 * fed whole decoded records. Nothing is lost silently: every span that
 * enters is eventually exported, refused by the receiver, or dropped with a
 * reason. A request that fails in a way that may pass later (receiver
 * unreachable, timed out, 429/502/503/504 after the transport's own retries)
 * goes back to the head of the queue and sending pauses with a growing
 * backoff, so an outage costs only what overflows the queue's bound.
 *
 * @module
 */

import type { Resource } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import { SpanBatch } from "../otlp/mod.ts";
import type { BatchOptions } from "./config.ts";
import type { SpanExporter } from "./exporter.ts";

/** Why spans were dropped. */
export type DropReason =
  /** The queue held maxQueueSpans already. */
  | "queue_full"
  /** The exporter gave up on the request (after its retries). */
  | "export_failed"
  /** The receiver accepted the request but refused these spans (partial success). */
  | "rejected"
  /** Still queued when shutdown ran out of time, or added after shutdown. */
  | "shutdown";

/** Running totals of a {@linkcode SpanQueue}, in spans. */
export interface QueueCounters {
  /** Spans handed to add(). */
  received: number;
  /** Spans the receiver accepted. */
  exported: number;
  /** Spans dropped, all reasons together. */
  dropped: number;
  /** Spans dropped, by reason. */
  droppedBy: Record<DropReason, number>;
  /** Spans waiting in the queue. */
  queued: number;
  /** Spans in export requests not answered yet. */
  inFlight: number;
}

/** Backoff after a retryable failure: 1 s, doubling up to 5 s (the OTLP transport's bounds). */
const firstRetryMs = 1_000;
const maxRetryMs = 5_000;

/** A failed, retried or partly refused export, for logging. */
export interface ExportProblem {
  /** export_failed, rejected, or retrying (the spans stay queued). */
  reason: "export_failed" | "rejected" | "retrying";
  /** Spans concerned. */
  spans: number;
  /** What went wrong, as a sentence. */
  message: string;
}

/** A request being put together: one group per resource and schema URL. */
interface Group {
  resource: Resource | undefined;
  schemaUrl: string;
  scopeSpans: Uint8Array[];
  spans: number;
}

/** Queues decoded spans and exports them in batches. */
export class SpanQueue {
  readonly #exporter: SpanExporter;
  readonly #options: BatchOptions;
  readonly #onProblem: (problem: ExportProblem) => void;
  readonly #counters: QueueCounters = {
    received: 0,
    exported: 0,
    dropped: 0,
    droppedBy: { queue_full: 0, export_failed: 0, rejected: 0, shutdown: 0 },
    queued: 0,
    inFlight: 0,
  };
  #items: SpanBatch[] = [];
  #head = 0;
  #requests = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;
  #pausedUntil = 0;
  #flushing = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  /** `onProblem` hears about failed and partly refused exports. */
  constructor(
    exporter: SpanExporter,
    options: BatchOptions,
    onProblem: (problem: ExportProblem) => void = () => {},
  ) {
    this.#exporter = exporter;
    this.#options = options;
    this.#onProblem = onProblem;
  }

  /** A snapshot of the counters. */
  counters(): QueueCounters {
    return { ...this.#counters, droppedBy: { ...this.#counters.droppedBy } };
  }

  /**
   * Queues spans whose resources are already final. Returns false when they
   * were dropped (queue full or shut down).
   */
  add(batch: SpanBatch): boolean {
    const spans = batch.spans;
    this.#counters.received += spans;
    if (spans === 0) return true;
    if (this.#closed) return this.#drop("shutdown", spans);
    if (this.#counters.queued + spans > this.#options.maxQueueSpans) {
      return this.#drop("queue_full", spans);
    }
    this.#items.push(batch);
    this.#counters.queued += spans;
    this.#pump();
    return true;
  }

  /**
   * Exports everything queued now and waits until nothing is queued or in
   * flight, or `timeoutMs` passed. Resolves to true when every span was
   * settled (exported, or counted as dropped), false on timeout.
   */
  async flush(timeoutMs = 30_000): Promise<boolean> {
    this.#flushing++;
    try {
      this.#pump();
      if (this.#isIdle()) return true;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const idle = new Promise<boolean>((resolve) =>
        this.#idle.push(() => resolve(true))
      );
      const late = new Promise<boolean>((resolve) =>
        timer = setTimeout(() => resolve(false), timeoutMs)
      );
      const done = await Promise.race([idle, late]);
      clearTimeout(timer);
      return done;
    } finally {
      this.#flushing--;
    }
  }

  /**
   * Stops accepting spans, delivers what is queued within `timeoutMs`, counts
   * the rest as dropped ("shutdown") and shuts the exporter down. Requests
   * still unanswered at the deadline stay counted as in flight.
   */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#closed = true;
    await this.flush(timeoutMs);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const left = this.#counters.queued;
    this.#items = [];
    this.#head = 0;
    this.#counters.queued = 0;
    if (left > 0) this.#drop("shutdown", left);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#exporter.shutdown(),
      new Promise((resolve) =>
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
      ),
    ]);
    clearTimeout(timer);
  }

  #isIdle(): boolean {
    return this.#counters.queued === 0 && this.#requests === 0;
  }

  /**
   * Sends full batches, or everything when a flush runs or the delay passed;
   * nothing while paused after a retryable failure.
   */
  #pump(force = false): void {
    const pause = this.#pausedUntil - Date.now();
    if (pause > 0) {
      // Also while shutting down: its flush waits for these spans.
      this.#schedule(pause);
      return;
    }
    const all = force || this.#flushing > 0;
    while (
      this.#counters.queued > 0 &&
      this.#requests < this.#options.maxConcurrentExports &&
      (all || this.#counters.queued >= this.#options.maxBatchSpans)
    ) {
      this.#send();
    }
    if (this.#counters.queued > 0 && !this.#closed) {
      this.#schedule(this.#options.scheduleDelayMs);
    }
  }

  /** Pumps everything in `ms` unless a pump is already scheduled. */
  #schedule(ms: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#pump(true);
    }, ms);
  }

  /**
   * Puts a request that may succeed later back at the head of the queue and
   * pauses sending. The newest queued spans make room when the bound would
   * be exceeded (counted as queue_full): the oldest are sent first.
   */
  #retryLater(request: SpanBatch, error: Error): void {
    if (this.#head > 0) this.#items[--this.#head] = request;
    else this.#items.unshift(request);
    this.#counters.queued += request.spans;
    while (
      this.#counters.queued > this.#options.maxQueueSpans &&
      this.#items.length - this.#head > 1
    ) {
      const newest = this.#items.pop()!;
      this.#counters.queued -= newest.spans;
      this.#drop("queue_full", newest.spans);
    }
    this.#retryMs = Math.min(this.#retryMs * 2 || firstRetryMs, maxRetryMs);
    this.#pausedUntil = Date.now() + this.#retryMs;
    this.#onProblem({
      reason: "retrying",
      spans: request.spans,
      message:
        `${error.message}; retrying in ${this.#retryMs} ms (${this.#counters.queued} spans queued)`,
    });
  }

  #send(): void {
    const byResource = new Map<Resource | undefined, Map<string, Group>>();
    const merged: Group[] = [];
    let spans = 0;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head];
      if (spans > 0 && spans + item.spans > this.#options.maxBatchSpans) break;
      this.#head++;
      spans += item.spans;
      // Records of one process share one Resource object: send it once per request.
      for (const rs of item.resourceSpans) {
        let bySchema = byResource.get(rs.resource);
        if (!bySchema) byResource.set(rs.resource, bySchema = new Map());
        let group = bySchema.get(rs.schemaUrl);
        if (!group) {
          group = { ...rs, scopeSpans: [], spans: 0 };
          bySchema.set(rs.schemaUrl, group);
          merged.push(group);
        }
        for (const ss of rs.scopeSpans) group.scopeSpans.push(ss);
        group.spans += rs.spans;
      }
    }
    if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    this.#counters.queued -= spans;
    this.#counters.inFlight += spans;
    this.#requests++;
    const request = new SpanBatch(merged, spans);
    this.#exporter.export(request).then((outcome) => {
      this.#counters.inFlight -= spans;
      this.#requests--;
      if (outcome.ok) {
        this.#retryMs = 0;
        const rejected = Math.min(outcome.rejected, spans);
        this.#counters.exported += spans - rejected;
        if (rejected > 0) {
          this.#drop("rejected", rejected);
          this.#onProblem({
            reason: "rejected",
            spans: rejected,
            message: `The receiver refused ${rejected} of ${spans} spans: ${
              outcome.message ?? "no reason given"
            }`,
          });
        }
      } else if (outcome.retryable) {
        this.#retryLater(request, outcome.error);
      } else {
        this.#drop("export_failed", spans);
        this.#onProblem({
          reason: "export_failed",
          spans,
          message: outcome.error.message,
        });
      }
      this.#pump();
      if (this.#isIdle()) { for (const wake of this.#idle.splice(0)) wake(); }
    });
  }

  #drop(reason: DropReason, spans: number): false {
    this.#counters.droppedBy[reason] += spans;
    this.#counters.dropped += spans;
    return false;
  }
}

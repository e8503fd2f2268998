/**
 * A bounded, batching queue in front of an {@linkcode Exporter}, in
 * the manner of OpenTelemetry's batch span processor but bounded in spans and
 * in bytes (a span may be 60 KB: a bound in spans alone let an outage grow the
 * controller to gigabytes) and fed whole decoded records. The bytes are those
 * of the spans and of their merged resources, each distinct resource object
 * once: a bound on span bytes alone let records with a distinct 200 KB
 * resource each grow the agent to 1.7 GB. An export request is sized as it
 * will be encoded, resources included, and never exceeds the request body
 * limit: a record that cannot fit alone is dropped by itself ("too_large")
 * instead of making a request the collector refuses (413) with other
 * processes' spans in it. Nothing is lost silently: every span that
 * enters is eventually exported, refused by the receiver, or dropped with a
 * reason. A request that fails in a way that may pass later (receiver
 * unreachable, timed out, 429/502/503/504 after the transport's own retries)
 * goes back to the head of the queue and sending pauses with a growing
 * backoff, so an outage costs only what overflows the queue's bound.
 *
 * Each signal has its own queue: a queue of signal "logs" holds log records
 * where this text says spans (and its counters count them).
 *
 * @module
 */

import {
  type EncodedGroup,
  type EncodedResource,
  lengthDelimitedSize,
  OtlpBatch,
  type Signal,
} from "../otlp/mod.ts";
import type { BatchOptions } from "./config.ts";
import type { Exporter } from "./exporter.ts";
import { maxResourceBytes } from "./resource_limits.ts";

/** Why spans were dropped. */
export type DropReason =
  /**
   * The queue held maxQueueSpans already, or the queues of every signal
   * maxQueueBytes.
   */
  | "queue_full"
  /**
   * The record, encoded with its resources, is larger than the request body
   * limit (maxRequestBodyBytes) on its own: no request could carry it.
   */
  | "too_large"
  /** The exporter gave up on the request (after its retries). */
  | "export_failed"
  /** The receiver accepted the request but refused these spans (partial success). */
  | "rejected"
  /** Still queued when shutdown ran out of time, or added after shutdown. */
  | "shutdown"
  /**
   * In an export request still unanswered when shutdown ran out of time (the
   * collector hangs, or keeps answering 503). The collector may still have
   * processed it.
   */
  | "in_flight";

/**
 * Every {@linkcode DropReason}, in a stable order, with the stage that drops
 * for it, as the OpenTelemetry SDK self-metrics split them: the "processor"
 * before export (otel.sdk.processor.span.processed), the "exporter" by it
 * (otel.sdk.exporter.span.exported).
 */
export const DROP_REASONS: readonly {
  reason: DropReason;
  stage: "processor" | "exporter";
}[] = [
  { reason: "queue_full", stage: "processor" },
  { reason: "too_large", stage: "processor" },
  { reason: "export_failed", stage: "exporter" },
  { reason: "rejected", stage: "exporter" },
  { reason: "shutdown", stage: "processor" },
  { reason: "in_flight", stage: "exporter" },
];

/** Running totals of a {@linkcode ExportQueue}, in spans. */
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
  /**
   * Bytes waiting in the queue: the spans' ScopeSpans and their merged
   * resources, each distinct resource once.
   */
  queuedBytes: number;
  /** Spans in export requests not answered yet. */
  inFlight: number;
}

/** How a queue's messages name what it holds and the variable that bounds it. */
const terms = {
  traces: { items: "spans", maxQueue: "OTEL_BSP_MAX_QUEUE_SIZE" },
  logs: { items: "log records", maxQueue: "OTEL_BLRP_MAX_QUEUE_SIZE" },
} as const;

/** Backoff after a retryable failure: 1 s, doubling up to 5 s (the OTLP transport's bounds). */
const firstRetryMs = 1_000;
const maxRetryMs = 5_000;

/** A failed, retried or partly refused export, for logging. */
export interface ExportProblem {
  /** queue_full, too_large, export_failed, rejected, or retrying (the spans stay queued). */
  reason:
    | "queue_full"
    | "too_large"
    | "export_failed"
    | "rejected"
    | "retrying";
  /** Spans (log records, in a queue of logs) concerned. */
  spans: number;
  /** What went wrong, as a sentence. */
  message: string;
  /** The signal of the queue. */
  signal: Signal;
}

/** A request being put together: one group per resource and schema URL. */
interface Group extends EncodedGroup {
  scopes: Uint8Array[];
  items: number;
}

/** An export request, its encoded size and whether its spans are already counted. */
interface Request {
  batch: OtlpBatch;
  bytes: number;
  settled: boolean;
}

/**
 * The byte bound (maxQueueBytes) that the queues of one agent share: spans
 * and log records together hold at most `max` bytes, queued and in flight,
 * so a memory limit sized for it holds whatever the mix of signals.
 */
export class QueueBytes {
  /** The bound, in bytes. */
  readonly max: number;
  readonly #members: { queued(): number; inFlight(): number }[] = [];

  /** A bound of `max` bytes, shared by the queues given it. */
  constructor(max: number) {
    this.max = max;
  }

  /** Counts `member`'s bytes in the bound from now on (a queue does this itself). */
  join(member: { queued(): number; inFlight(): number }): void {
    this.#members.push(member);
  }

  /** Bytes waiting in the queues. */
  get queued(): number {
    return this.#members.reduce((n, m) => n + m.queued(), 0);
  }

  /** Bytes in export requests not answered yet. */
  get inFlight(): number {
    return this.#members.reduce((n, m) => n + m.inFlight(), 0);
  }
}

/** Queues decoded spans (or log records) and exports them in batches. */
export class ExportQueue {
  readonly #exporter: Exporter;
  readonly #options: BatchOptions;
  readonly #onProblem: (problem: Omit<ExportProblem, "signal">) => void;
  readonly #signal: Signal;
  readonly #bytes: QueueBytes;
  readonly #counters: QueueCounters = {
    received: 0,
    exported: 0,
    dropped: 0,
    droppedBy: Object.fromEntries(
      DROP_REASONS.map(({ reason }) => [reason, 0]),
    ) as Record<DropReason, number>,
    queued: 0,
    queuedBytes: 0,
    inFlight: 0,
  };
  #inFlightBytes = 0;
  /**
   * The resources of the queued batches, by object, with the number of
   * queued groups that hold each: a resource counts in queuedBytes once
   * while any of them is queued. By object, not by key: a resource cache
   * that was emptied makes new objects with the same key, each its own
   * memory.
   */
  readonly #resources = new Map<EncodedResource, number>();
  /** Queued batches from #head on; slots before it are sent and empty. */
  #items: (OtlpBatch | undefined)[] = [];
  #head = 0;
  readonly #requests = new Set<Request>();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #retryMs = 0;
  #pausedUntil = 0;
  #flushing = 0;
  #idle: (() => void)[] = [];
  #closed = false;

  /**
   * `onProblem` hears about failed and partly refused exports; `signal` is
   * what the queue holds (batches of one signal only); `bytes` is the byte
   * bound it shares with the other signals' queues (default: its own, of
   * `options.maxQueueBytes`).
   */
  constructor(
    exporter: Exporter,
    options: BatchOptions,
    onProblem: (problem: ExportProblem) => void = () => {},
    signal: Signal = "traces",
    bytes: QueueBytes = new QueueBytes(options.maxQueueBytes),
  ) {
    this.#exporter = exporter;
    this.#options = options;
    this.#signal = signal;
    this.#onProblem = (problem) => onProblem({ ...problem, signal });
    this.#bytes = bytes;
    bytes.join({
      queued: () => this.#counters.queuedBytes,
      inFlight: () => this.#inFlightBytes,
    });
  }

  /** A snapshot of the counters. */
  counters(): QueueCounters {
    return { ...this.#counters, droppedBy: { ...this.#counters.droppedBy } };
  }

  /**
   * The spans and bytes that can be queued now and still leave room for the
   * requests in flight to come back for a retry (zero once shut down). The
   * controller reads no more from the ring than this, so that a full queue
   * leaves records in the ring instead of dropping them. The controller
   * sizes a record by its spans, before its resource is merged: the bytes
   * leave room for one new resource at its largest. `empty`: nothing is
   * queued or in flight, so a record over the bounds would be queued alone.
   */
  room(): { spans: number; bytes: number; empty: boolean } {
    const c = this.#counters;
    if (this.#closed) return { spans: 0, bytes: 0, empty: false };
    return {
      spans: Math.max(0, this.#options.maxQueueSpans - c.queued - c.inFlight),
      bytes: Math.max(
        0,
        this.#bytes.max - this.#bytes.queued - this.#bytes.inFlight -
          maxResourceBytes,
      ),
      empty: c.queued === 0 && c.inFlight === 0,
    };
  }

  /**
   * Queues spans whose resources are already final. Returns false when they
   * were dropped (queue full, too large for a request, or shut down). A
   * record larger than the queue's bounds is queued when the queue is
   * empty, and sent alone.
   */
  add(batch: OtlpBatch): boolean {
    const spans = batch.items;
    this.#counters.received += spans;
    if (spans === 0) {
      batch.release();
      return true;
    }
    if (this.#closed) return this.#dropBatch("shutdown", batch);
    const size = new RequestSize().add(batch);
    const { items, maxQueue } = terms[this.#signal];
    if (size > this.#options.maxRequestBodyBytes) {
      this.#onProblem({
        reason: "too_large",
        spans,
        message:
          `A record of ${spans} ${items} is ${size} bytes as an export request, over the ${this.#options.maxRequestBodyBytes}-byte request body limit; its ${items} are dropped: raise SPANBRIDGE_MAX_REQUEST_BODY_BYTES (and the collector's limit), or have the program send smaller batches`,
      });
      return this.#dropBatch("too_large", batch);
    }
    // A record over the bounds on its own is queued alone, as it would
    // otherwise never be.
    if (
      (this.#counters.queued > 0 || this.#counters.inFlight > 0) &&
      (this.#counters.queued + spans > this.#options.maxQueueSpans ||
        this.#bytes.queued + batch.bytes + this.#newResourceBytes(batch) >
          this.#bytes.max)
    ) {
      this.#onProblem({
        reason: "queue_full",
        spans,
        message:
          `The ${this.#signal} export queue is full (${this.#counters.queued} ${items}, ${this.#counters.queuedBytes} bytes; ${this.#bytes.queued} of every signal); ${items} dropped: raise ${maxQueue} or SPANBRIDGE_MAX_QUEUE_BYTES, or make the collector faster`,
      });
      return this.#dropBatch("queue_full", batch);
    }
    this.#items.push(batch);
    this.#enqueued(batch);
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
   * still unanswered at the deadline are counted as dropped ("in_flight"),
   * and their late answers change no counter: when this resolves, every
   * span received is exported or dropped.
   */
  async shutdown(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    this.#closed = true;
    await this.flush(timeoutMs);
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const left = this.#counters.queued;
    for (let i = this.#head; i < this.#items.length; i++) {
      this.#items[i]?.release();
    }
    this.#items = [];
    this.#head = 0;
    this.#resources.clear();
    this.#counters.queued = 0;
    this.#counters.queuedBytes = 0;
    if (left > 0) this.#drop("shutdown", left);
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([
      this.#exporter.shutdown(),
      new Promise((resolve) =>
        timer = setTimeout(resolve, Math.max(0, deadline - Date.now()))
      ),
    ]);
    clearTimeout(timer);
    for (const request of this.#requests) {
      request.settled = true;
      this.#counters.inFlight -= request.batch.items;
      this.#inFlightBytes -= request.bytes;
      this.#drop("in_flight", request.batch.items);
    }
    this.#requests.clear();
  }

  #isIdle(): boolean {
    return this.#counters.queued === 0 && this.#requests.size === 0;
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
      this.#requests.size < this.#options.maxConcurrentExports &&
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
  #retryLater(request: OtlpBatch, error: Error): void {
    if (this.#head > 0) this.#items[--this.#head] = request;
    else this.#items.unshift(request);
    this.#enqueued(request);
    while (
      (this.#counters.queued > this.#options.maxQueueSpans ||
        this.#bytes.queued > this.#bytes.max) &&
      this.#items.length - this.#head > 1
    ) {
      const newest = this.#items.pop()!;
      this.#dequeued(newest);
      this.#dropBatch("queue_full", newest);
    }
    this.#retryMs = Math.min(this.#retryMs * 2 || firstRetryMs, maxRetryMs);
    this.#pausedUntil = Date.now() + this.#retryMs;
    this.#onProblem({
      reason: "retrying",
      spans: request.items,
      message:
        `${error.message}; retrying in ${this.#retryMs} ms (${this.#counters.queued} ${
          terms[this.#signal].items
        } queued)`,
    });
  }

  #send(): void {
    const byResource = new Map<string, Map<string, Group>>();
    const merged: Group[] = [];
    const parts: OtlpBatch[] = [];
    const size = new RequestSize();
    let spans = 0;
    while (this.#head < this.#items.length) {
      const item = this.#items[this.#head]!;
      // The first record always goes: add() let in none that cannot fit
      // alone, and maxBatchBytes is at most the body limit.
      if (
        spans > 0 && (spans + item.items > this.#options.maxBatchSpans ||
          size.with(item) > this.#options.maxBatchBytes)
      ) break;
      // Emptied at once: the array is compacted only now and then, and a
      // sent batch left in it would keep its record's bytes alive (at a few
      // hundred large records a second, hundreds of MiB).
      this.#items[this.#head++] = undefined;
      this.#dequeued(item);
      parts.push(item);
      spans += item.items;
      size.add(item);
      // Records with one resource key share one resource: send it once per request.
      for (const rs of item.groups) {
        const key = rs.resource?.key ?? "";
        let bySchema = byResource.get(key);
        if (!bySchema) byResource.set(key, bySchema = new Map());
        let group = bySchema.get(rs.schemaUrl);
        if (!group) {
          group = { ...rs, scopes: [], items: 0 };
          bySchema.set(rs.schemaUrl, group);
          merged.push(group);
        }
        for (const ss of rs.scopes) group.scopes.push(ss);
        group.items += rs.items;
      }
    }
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    const bytes = size.bytes;
    this.#counters.inFlight += spans;
    this.#inFlightBytes += bytes;
    // Its records' memory is reused once the request is answered, unless
    // it goes back to the queue for a retry.
    const request = new OtlpBatch(merged, spans, () => {
      for (const part of parts) part.release();
    }, this.#signal);
    const sent: Request = { batch: request, bytes, settled: false };
    this.#requests.add(sent);
    this.#exporter.export(request).then((outcome) => {
      // Counted as dropped in flight by a shutdown that ran out of time.
      if (sent.settled) {
        request.release();
        return;
      }
      this.#counters.inFlight -= spans;
      this.#inFlightBytes -= bytes;
      this.#requests.delete(sent);
      if (outcome.ok || !outcome.retryable) request.release();
      if (outcome.ok) {
        this.#retryMs = 0;
        const rejected = Math.min(outcome.rejected, spans);
        this.#counters.exported += spans - rejected;
        if (rejected > 0) {
          this.#drop("rejected", rejected);
          this.#onProblem({
            reason: "rejected",
            spans: rejected,
            message: `The receiver refused ${rejected} of ${spans} ${
              terms[this.#signal].items
            }: ${outcome.message ?? "no reason given"}`,
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

  /** Bytes `batch`'s resources would add to queuedBytes: those not queued yet. */
  #newResourceBytes(batch: OtlpBatch): number {
    let bytes = 0;
    const seen = new Set<EncodedResource>();
    for (const { resource } of batch.groups) {
      if (!resource || this.#resources.has(resource) || seen.has(resource)) {
        continue;
      }
      seen.add(resource);
      bytes += resource.bytes.length;
    }
    return bytes;
  }

  /** Counts `batch` as queued: its spans, bytes and resources. */
  #enqueued(batch: OtlpBatch): void {
    this.#counters.queued += batch.items;
    this.#counters.queuedBytes += batch.bytes;
    for (const { resource } of batch.groups) {
      if (!resource) continue;
      const holders = this.#resources.get(resource) ?? 0;
      if (holders === 0) this.#counters.queuedBytes += resource.bytes.length;
      this.#resources.set(resource, holders + 1);
    }
  }

  /** Counts `batch` as no longer queued (sent or dropped). */
  #dequeued(batch: OtlpBatch): void {
    this.#counters.queued -= batch.items;
    this.#counters.queuedBytes -= batch.bytes;
    for (const { resource } of batch.groups) {
      if (!resource) continue;
      const holders = this.#resources.get(resource)! - 1;
      if (holders > 0) this.#resources.set(resource, holders);
      else {
        this.#resources.delete(resource);
        this.#counters.queuedBytes -= resource.bytes.length;
      }
    }
  }

  #drop(reason: DropReason, spans: number): false {
    this.#counters.droppedBy[reason] += spans;
    this.#counters.dropped += spans;
    return false;
  }

  /** Counts `batch`'s spans as dropped and hands its memory back. */
  #dropBatch(reason: DropReason, batch: OtlpBatch): false {
    batch.release();
    return this.#drop(reason, batch.items);
  }
}

/**
 * The encoded size of an export request being put together, resources
 * included: each group of one resource key and schema URL carries its
 * resource once, as {@linkcode OtlpBatch.toBinary} writes it.
 */
class RequestSize {
  #bytes = 0;
  /** The groups so far: schema URLs by resource key. */
  readonly #groups = new Map<string, Set<string>>();

  /** Bytes of the request so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The size with `batch` added, without adding it. */
  with(batch: OtlpBatch): number {
    return this.#bytes + this.#growth(batch, new Map());
  }

  /** Adds `batch`; returns the new size. */
  add(batch: OtlpBatch): number {
    return this.#bytes += this.#growth(batch, this.#groups);
  }

  /** Bytes `batch` adds to the groups in `added` (new ones go there) and #groups. */
  #growth(batch: OtlpBatch, added: Map<string, Set<string>>): number {
    let bytes = 0;
    for (const rs of batch.groups) {
      const key = rs.resource?.key ?? "";
      if (
        !this.#groups.get(key)?.has(rs.schemaUrl) &&
        !added.get(key)?.has(rs.schemaUrl)
      ) {
        let urls = added.get(key);
        if (!urls) added.set(key, urls = new Set());
        urls.add(rs.schemaUrl);
        // The group's own tag and length (a varint of at most 5 bytes).
        bytes += 6;
        if (rs.resource) bytes += lengthDelimitedSize(rs.resource.bytes.length);
        // A character is at most 3 bytes in UTF-8.
        if (rs.schemaUrl) bytes += lengthDelimitedSize(3 * rs.schemaUrl.length);
      }
      for (const ss of rs.scopes) bytes += lengthDelimitedSize(ss.length);
    }
    return bytes;
  }
}

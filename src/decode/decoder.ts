/**
 * Turns ring records into {@linkcode OtlpBatch}es of spans or log records,
 * by the signal of their batch header. Every record is either validated or
 * counted as corrupt by reason; nothing is thrown.
 *
 * @module
 */

import { OtlpBatch, type Signal } from "../otlp/mod.ts";
import { endedLayout } from "../wire/mod.ts";
import {
  BATCH_HEADER_SIZE,
  HEADER_SIZE,
  MAX_PAYLOAD_CLASSES,
  readBatchHeader,
  readHeader,
  RECORD_MAGIC,
  type RecordHeader,
} from "./header.ts";
import { ResourceMemo } from "./_scan.ts";
import { traceScanner } from "./_scan_traces.ts";
import { logScanner } from "./_scan_logs.ts";
import { CopyArena } from "./_arena.ts";

/** Why a record was rejected. */
export type CorruptReason =
  /** Shorter than the header. */
  | "short_record"
  /** The first four bytes are not "SBR1". */
  | "bad_magic"
  /** header.len exceeds the bytes that follow the header. */
  | "bad_length"
  /** header.len exceeds the configured maximum payload. */
  | "too_large"
  /** The payload begins with the batch header's magic, but the header is short or of an unknown version. */
  | "bad_batch_header"
  /** The batch header names a signal this controller does not decode (a newer SDK's). */
  | "unknown_signal"
  /** The payload is not a valid TracesData (LogsData) message. */
  | "bad_protobuf"
  /** A span's trace id is not 16 bytes, or a log record's is neither empty nor 16 bytes. */
  | "bad_trace_id"
  /**
   * A span's id is not 8 bytes, or its parent id is neither empty nor 8
   * bytes; or a log record's span id is neither empty nor 8 bytes.
   */
  | "bad_span_id";

/** Every {@linkcode CorruptReason}, in a stable order. */
export const CORRUPT_REASONS: readonly CorruptReason[] = [
  "short_record",
  "bad_magic",
  "bad_length",
  "too_large",
  "bad_batch_header",
  "unknown_signal",
  "bad_protobuf",
  "bad_trace_id",
  "bad_span_id",
];

/** Running totals of a {@linkcode Decoder}. */
export interface DecodeCounters {
  /** Records decoded successfully. */
  records: number;
  /** Payload bytes of those records (header.len, not padded sizes). */
  bytes: number;
  /** Spans in those records. */
  spans: number;
  /** Log records in those records. */
  logRecords: number;
  /**
   * Of `records`, those without a batch header (from an SDK older than it):
   * their losses cannot be counted per process.
   */
  unsequenced: number;
  /** Records rejected, all reasons together. */
  corrupt: number;
  /** Records rejected, by reason. */
  corruptBy: Record<CorruptReason, number>;
}

/** One decoded record. */
export interface DecodedRecord {
  /** The record header. */
  header: RecordHeader;
  /**
   * The process's batch sequence from the SDK's batch header, one for all
   * signals; undefined when the payload had none (an SDK older than the
   * header).
   */
  seq: number | undefined;
  /**
   * The payload's spans or log records (`batch.signal` says which), in a
   * copy of the record (which may be reused at once); `batch.release()`
   * hands the copy back once they were exported or dropped.
   */
  batch: OtlpBatch;
}

/** Options of {@linkcode Decoder}. */
export interface DecoderOptions {
  /**
   * The largest payload accepted, in bytes. Default
   * {@linkcode MAX_PAYLOAD_CLASSES}; use MAX_PAYLOAD_DYNPTR with the dynptr probe.
   */
  maxPayloadBytes?: number;
  /**
   * Called for every rejected record (the controller warns, rate-limited);
   * must not throw. `seq` is the batch sequence of a record whose batch
   * header was valid but whose message was not, or whose signal is not
   * decoded here: the batch arrived, so it is not lost. `signal` is its
   * signal, when decoded here.
   */
  onCorrupt?: (
    reason: CorruptReason,
    detail: string,
    header?: RecordHeader,
    seq?: number,
    signal?: Signal,
  ) => void;
}

/** Decodes and validates ring records, keeping {@linkcode DecodeCounters}. */
export class Decoder {
  readonly #counters: DecodeCounters = {
    records: 0,
    bytes: 0,
    spans: 0,
    logRecords: 0,
    unsequenced: 0,
    corrupt: 0,
    corruptBy: Object.fromEntries(CORRUPT_REASONS.map((r) => [r, 0])) as Record<
      CorruptReason,
      number
    >,
  };
  readonly #maxPayload: number;
  readonly #resources = new ResourceMemo();
  readonly #copies = new CopyArena();
  readonly #onCorrupt: NonNullable<DecoderOptions["onCorrupt"]>;

  /** Creates a decoder with fresh counters. */
  constructor(options: DecoderOptions = {}) {
    this.#maxPayload = options.maxPayloadBytes ?? MAX_PAYLOAD_CLASSES;
    this.#onCorrupt = options.onCorrupt ?? (() => {});
  }

  /** A snapshot of the totals since construction. */
  counters(): DecodeCounters {
    return { ...this.#counters, corruptBy: { ...this.#counters.corruptBy } };
  }

  /**
   * Decodes one record (header + payload, possibly padded): validates the
   * whole TracesData (or LogsData, by the batch header's signal) and every
   * span's (log record's) ids, decodes only the resources (see
   * {@linkcode OtlpBatch}). Returns undefined and counts the reason when the
   * record is corrupt. The payload is copied first, so `record` may be
   * reused afterwards.
   */
  decode(record: Uint8Array): DecodedRecord | undefined {
    if (record.length < HEADER_SIZE) {
      return this.#reject(
        "short_record",
        `record is ${record.length} bytes, shorter than the ${HEADER_SIZE}-byte header`,
      );
    }
    const header = readHeader(record);
    if (header.magic !== RECORD_MAGIC) {
      return this.#reject(
        "bad_magic",
        `magic is 0x${header.magic.toString(16)}, expected 0x${
          RECORD_MAGIC.toString(16)
        }`,
      );
    }
    if (header.len > record.length - HEADER_SIZE) {
      return this.#reject(
        "bad_length",
        `payload length is ${header.len} bytes but only ${
          record.length - HEADER_SIZE
        } follow the header`,
        header,
      );
    }
    if (header.len > this.#maxPayload) {
      return this.#reject(
        "too_large",
        `payload is ${header.len} bytes, which exceeds the ${this.#maxPayload}-byte limit`,
        header,
      );
    }
    let payload = record.subarray(HEADER_SIZE, HEADER_SIZE + header.len);
    const batch = readBatchHeader(payload);
    if (batch === "short") {
      return this.#reject(
        "bad_batch_header",
        `payload of ${header.len} bytes begins with the batch header's magic but is shorter than the ${BATCH_HEADER_SIZE}-byte header`,
        header,
      );
    }
    if (batch && batch.version !== endedLayout.BATCH_VERSION) {
      return this.#reject(
        "bad_batch_header",
        `batch header version is ${batch.version}, this controller reads version ${endedLayout.BATCH_VERSION}; upgrade spanbridge to read batches of this SDK`,
        header,
      );
    }
    // Without a header: a TracesData from an SDK older than it.
    const signal = batch ? signalOf(batch.signal) : "traces";
    if (!signal) {
      return this.#reject(
        "unknown_signal",
        `batch header signal is ${
          batch!.signal
        }, this controller decodes traces (${endedLayout.SIGNAL_TRACES}) and logs (${endedLayout.SIGNAL_LOGS}); upgrade spanbridge to read this SDK's other signals`,
        header,
        // Its sequence still counts: the batch arrived.
        batch!.seq,
      );
    }
    // The header is the SDK's, not part of the OTLP message.
    if (batch) payload = payload.subarray(BATCH_HEADER_SIZE);
    const copy = this.#copies.copy(payload);
    const scanned = scanners[signal].scan(copy.bytes, this.#resources);
    if (!(scanned instanceof OtlpBatch)) {
      copy.release();
      return this.#reject(
        scanned.reason,
        scanned.detail,
        header,
        batch?.seq,
        signal,
      );
    }
    const decoded = new OtlpBatch(
      scanned.groups,
      scanned.items,
      copy.release,
      signal,
    );
    this.#counters.records++;
    this.#counters.bytes += header.len;
    if (signal === "logs") this.#counters.logRecords += decoded.items;
    else this.#counters.spans += decoded.items;
    if (!batch) this.#counters.unsequenced++;
    return { header, seq: batch?.seq, batch: decoded };
  }

  #reject(
    reason: CorruptReason,
    detail: string,
    header?: RecordHeader,
    seq?: number,
    signal?: Signal,
  ): undefined {
    this.#counters.corrupt++;
    this.#counters.corruptBy[reason]++;
    try {
      this.#onCorrupt(
        reason,
        `Cannot decode ${signal === "logs" ? "log" : "span"} record: ${detail}`,
        header,
        seq,
        signal,
      );
    } catch {
      // A failing observer must not turn a counted record into an exception.
    }
    return undefined;
  }
}

/** The scanner of each signal's payloads. */
const scanners = { traces: traceScanner, logs: logScanner } as const;

/** The signal of a batch header's SB_SIGNAL_* value; undefined for one not decoded here. */
function signalOf(value: number): Signal | undefined {
  if (value === endedLayout.SIGNAL_TRACES) return "traces";
  if (value === endedLayout.SIGNAL_LOGS) return "logs";
  return undefined;
}

/**
 * {@linkcode OtlpBatch}: validated spans (or log records) whose ScopeSpans
 * (ScopeLogs) stay in their wire form, so that exporting them to OTLP/HTTP
 * protobuf copies bytes instead of decoding and re-encoding every record.
 *
 * @module
 */

import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  type ResourceSpans,
  ResourceSpansSchema,
  ScopeSpansSchema,
  type TracesData,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  type LogsData,
  LogsDataSchema,
  ResourceLogsSchema,
  ScopeLogsSchema,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";

/**
 * The OTLP signal a batch carries. TracesData and LogsData share their
 * shape on the wire (`repeated Resource{Spans,Logs} = 1`, each a resource
 * = 1, scope groups = 2, schema_url = 3), so one batch type carries both.
 */
export type Signal = "traces" | "logs";

/**
 * A resource as it travels: its encoding, and a key that is equal for equal
 * resources and different otherwise (as OpenTelemetry Go's
 * `attribute.Distinct`). Spans are grouped by the key, never by which object
 * holds the resource.
 */
export interface EncodedResource {
  /** The Resource message, encoded (without field tag and length). */
  readonly bytes: Uint8Array;
  /** The identity of the resource: {@linkcode resourceKey} of `bytes`. */
  readonly key: string;
}

/**
 * The key of an encoded resource: its bytes as a string, one character per
 * byte. Equal encodings give equal keys; a JS Map hashes such a string once
 * per string object, so callers keep the key they got rather than making it
 * again for every record.
 */
export function resourceKey(bytes: Uint8Array): string {
  return latin1.decode(bytes);
}

// windows-1252 maps each of the 256 byte values to its own code point.
const latin1 = new TextDecoder("latin1");

/** Encodes `resource` with its key. */
export function encodeResource(resource: Resource): EncodedResource {
  const bytes = toBinary(ResourceSchema, resource);
  return { bytes, key: resourceKey(bytes) };
}

/** Decodes an encoded resource back into a gen/ message. */
export function decodeResource(resource: EncodedResource): Resource {
  return fromBinary(ResourceSchema, resource.bytes);
}

/**
 * A resource group (a ResourceSpans or a ResourceLogs) with its Resource and
 * its scope groups encoded.
 */
export interface EncodedGroup {
  /** The resource, or undefined when the message had none. */
  readonly resource: EncodedResource | undefined;
  /** Resource{Spans,Logs}.schema_url. */
  readonly schemaUrl: string;
  /** Each ScopeSpans (ScopeLogs) message, encoded (without field tag and length). */
  readonly scopes: readonly Uint8Array[];
  /** Spans (log records) in `scopes`. */
  readonly items: number;
}

/**
 * The items of one signal grouped by resource: spans as a TracesData (or,
 * with the same encoding, an ExportTraceServiceRequest) holds them, or, for
 * the signal "logs", log records as a LogsData holds them. `groups` are the
 * ResourceSpans (ResourceLogs), their `scopes` the encoded ScopeSpans
 * (ScopeLogs) and `items` counts spans (log records). The scope group bytes
 * were validated by the decoder and are never modified.
 */
export class OtlpBatch {
  /** The groups, in order. */
  readonly groups: readonly EncodedGroup[];
  /** Spans (log records, for logs) in all groups. */
  readonly items: number;
  /** What the groups hold: spans ("traces") or log records ("logs"). */
  readonly signal: Signal;
  /** ScopeSpans bytes in all groups: what holding this batch costs, roughly. */
  readonly bytes: number;

  #release: (() => void) | undefined;

  /**
   * Wraps `groups`; `items` defaults to the sum of their counts.
   * `release` hands the memory their bytes are in back for reuse (see
   * {@linkcode OtlpBatch.release}); `signal` says what the groups hold.
   */
  constructor(
    groups: readonly EncodedGroup[],
    items: number = groups.reduce((n, group) => n + group.items, 0),
    release?: () => void,
    signal: Signal = "traces",
  ) {
    this.groups = groups;
    this.items = items;
    this.signal = signal;
    this.#release = release;
    let bytes = 0;
    for (const group of groups) {
      for (const scope of group.scopes) bytes += scope.length;
    }
    this.bytes = bytes;
  }

  /**
   * Says that nothing will read the batch's bytes any more (its spans were
   * exported or dropped): the buffers they are in may be reused, so the
   * batch must not be read afterwards. Only the first call counts; a batch
   * never released is left to the GC.
   */
  release(): void {
    const release = this.#release;
    this.#release = undefined;
    release?.();
  }

  /**
   * The batch as protobuf TracesData, which is byte for byte an
   * ExportTraceServiceRequest too (both are `repeated ResourceSpans = 1`);
   * for logs, as LogsData, byte for byte an ExportLogsServiceRequest.
   * The resource and ScopeSpans bytes are copied as they are, into the
   * buffer `allocate` returns for the size (default a new one).
   */
  toBinary(
    allocate: (size: number) => Uint8Array = (size) => new Uint8Array(size),
  ): Uint8Array {
    // Sized first, then written into one buffer: the ScopeSpans bytes are
    // copied once, and nothing else is allocated per request.
    const schemaUrls = this.groups.map((rs) =>
      rs.schemaUrl === "" ? undefined : utf8.encode(rs.schemaUrl)
    );
    const sizes = this.groups.map((rs, i) => {
      let n = rs.resource ? lengthDelimitedSize(rs.resource.bytes.length) : 0;
      for (const ss of rs.scopes) n += lengthDelimitedSize(ss.length);
      const url = schemaUrls[i];
      return url ? n + lengthDelimitedSize(url.length) : n;
    });
    const out = allocate(
      sizes.reduce((n, size) => n + lengthDelimitedSize(size), 0),
    );
    let at = 0;
    const put = (tag: number, bytes: Uint8Array) => {
      out[at] = tag;
      at = putVarint(out, at + 1, bytes.length);
      out.set(bytes, at);
      at += bytes.length;
    };
    // Tags are (field << 3) | 2: TracesData.resource_spans = 1;
    // ResourceSpans.resource = 1, scope_spans = 2, schema_url = 3.
    this.groups.forEach((rs, i) => {
      out[at] = 0x0a;
      at = putVarint(out, at + 1, sizes[i]);
      if (rs.resource) put(0x0a, rs.resource.bytes);
      for (const ss of rs.scopes) put(0x12, ss);
      const url = schemaUrls[i];
      if (url) put(0x1a, url);
    });
    return out;
  }

  /**
   * The batch of decoded messages, ScopeSpans re-encoded (canonical
   * protobuf); the inverse of {@linkcode OtlpBatch.toTracesData}. Validating
   * the spans is the caller's part.
   */
  static fromTracesData(traces: TracesData): OtlpBatch {
    return new OtlpBatch(traces.resourceSpans.map((rs) => ({
      resource: rs.resource && encodeResource(rs.resource),
      schemaUrl: rs.schemaUrl,
      scopes: rs.scopeSpans.map((ss) => toBinary(ScopeSpansSchema, ss)),
      items: rs.scopeSpans.reduce((n, ss) => n + ss.spans.length, 0),
    })));
  }

  /**
   * Decodes every span into gen/ messages, for the exporters that need them
   * (OTLP/JSON, console). Much slower than {@linkcode OtlpBatch.toBinary}:
   * it is what the pass-through avoids.
   */
  toTracesData(): TracesData {
    if (this.signal !== "traces") {
      throw new Error(
        `Cannot read a batch of ${this.signal} as TracesData: use toLogsData`,
      );
    }
    return create(TracesDataSchema, {
      resourceSpans: this.groups.map((rs): ResourceSpans =>
        create(ResourceSpansSchema, {
          resource: rs.resource && decodeResource(rs.resource),
          schemaUrl: rs.schemaUrl,
          scopeSpans: rs.scopes.map((ss) => fromBinary(ScopeSpansSchema, ss)),
        })
      ),
    });
  }

  /**
   * A logs batch of decoded messages, ScopeLogs re-encoded (canonical
   * protobuf); the inverse of {@linkcode OtlpBatch.toLogsData}. Validating
   * the records is the caller's part.
   */
  static fromLogsData(logs: LogsData): OtlpBatch {
    return new OtlpBatch(
      logs.resourceLogs.map((rl) => ({
        resource: rl.resource && encodeResource(rl.resource),
        schemaUrl: rl.schemaUrl,
        scopes: rl.scopeLogs.map((sl) => toBinary(ScopeLogsSchema, sl)),
        items: rl.scopeLogs.reduce((n, sl) => n + sl.logRecords.length, 0),
      })),
      undefined,
      undefined,
      "logs",
    );
  }

  /**
   * Decodes every log record of a logs batch into gen/ messages (OTLP/JSON,
   * console, tests); as slow as {@linkcode OtlpBatch.toTracesData}.
   */
  toLogsData(): LogsData {
    if (this.signal !== "logs") {
      throw new Error(
        `Cannot read a batch of ${this.signal} as LogsData: use toTracesData`,
      );
    }
    return create(LogsDataSchema, {
      resourceLogs: this.groups.map((rs) =>
        create(ResourceLogsSchema, {
          resource: rs.resource && decodeResource(rs.resource),
          schemaUrl: rs.schemaUrl,
          scopeLogs: rs.scopes.map((sl) => fromBinary(ScopeLogsSchema, sl)),
        })
      ),
    });
  }
}

const utf8 = new TextEncoder();

/**
 * Size of a length-delimited protobuf field of `n` bytes with a one-byte
 * tag, as {@linkcode OtlpBatch.toBinary} writes resources and ScopeSpans.
 */
export function lengthDelimitedSize(n: number): number {
  return 1 + varintSize(n) + n;
}

function varintSize(n: number): number {
  let size = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    size++;
  }
  return size;
}

/** Writes `n` (below 2^53) as a varint at `at`; returns the next position. */
function putVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n % 128) | 0x80;
    n = Math.floor(n / 128);
  }
  out[at++] = n;
  return at;
}

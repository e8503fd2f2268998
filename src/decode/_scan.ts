/**
 * The scan of an OTLP payload into a {@linkcode OtlpBatch}, one for every
 * signal: TracesData and LogsData share their framing (`repeated
 * Resource{Spans,Logs} = 1`; in each a resource = 1, scope groups = 2,
 * schema_url = 3; in each scope group the items = 2), so one walker reads it
 * and a {@linkcode SignalScan} says how one item (a span, a log record) is
 * checked. It validates the whole message on the wire, decodes only the
 * resources and keeps each scope group as the bytes it came in.
 *
 * Validity is that of the full decoder (`fromBinary` plus the id checks):
 * scan_differential_test.ts holds the two side by side.
 *
 * @module
 */

import {
  type DescMessage,
  fromBinary,
  mergeFromBinary,
  type MessageShape,
} from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  type EncodedGroup,
  type EncodedResource,
  encodeResource,
  OtlpBatch,
  resourceKey,
  type Signal,
} from "../otlp/mod.ts";
import { Lenient, type MessageRules, rulesOf, WireWalker } from "./_wire.ts";

/** Why a payload was refused, in the terms of decoder.ts. */
export interface ScanProblem {
  /** The CorruptReason. */
  reason: "bad_protobuf" | IdReason;
  /** A sentence fragment for the log. */
  detail: string;
}

/**
 * Interns resources by their encoding: the records of one process carry the
 * same resource bytes, and each distinct encoding gets one
 * {@linkcode EncodedResource} (its own copy of the bytes and its key), so the
 * key string is made once, not per record. Resources are not decoded here:
 * the exporter decodes a resource once, when it first merges it.
 */
export class ResourceMemo {
  readonly #byKey = new Map<string, EncodedResource>();
  #bytes = 0;
  // The last lookup: records of one process come in runs, and comparing
  // bytes costs less than making the key string.
  #last: EncodedResource | undefined;

  /** The interned resource encoded by `bytes` (which may be reused afterwards). */
  intern(bytes: Uint8Array): EncodedResource {
    if (this.#last && sameBytes(bytes, this.#last.bytes)) return this.#last;
    return this.#last = this.#lookup(bytes);
  }

  #lookup(bytes: Uint8Array): EncodedResource {
    const key = resourceKey(bytes);
    let resource = this.#byKey.get(key);
    if (!resource) {
      // Bounded in entries and bytes: an SDK that changes its resource on
      // every batch must not grow this map forever.
      if (this.#byKey.size >= 256 || this.#bytes > 4 << 20) {
        this.#byKey.clear();
        this.#bytes = 0;
      }
      resource = { bytes: bytes.slice(), key };
      this.#byKey.set(key, resource);
      this.#bytes += 2 * bytes.length;
    }
    return resource;
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The reason an item's ids are bad. */
export type IdReason = "bad_trace_id" | "bad_span_id";

/**
 * What differs between the scans of two signals: their messages and the
 * check of one item. The field names in error messages come from the
 * schemas ("TracesData.resource_spans", "ScopeLogs.log_records").
 */
export interface SignalScan<Data extends DescMessage> {
  /** The signal of the batches made. */
  readonly signal: Signal;
  /** TracesData, LogsData. */
  readonly data: Data;
  /** ResourceSpans, ResourceLogs. */
  readonly group: DescMessage;
  /** ScopeSpans, ScopeLogs. */
  readonly scope: DescMessage;
  /**
   * Walks one item, from `walker.pos` to `end` (leaving the walker at
   * `end`), validating it on the wire; returns why its ids are bad, if they
   * are.
   */
  item(walker: WireWalker, end: number): IdReason | undefined;
  /** A sentence fragment about the encoded item refused for `reason`. */
  describe(item: Uint8Array, reason: IdReason): string;
  /** The first item with bad ids in fully decoded data, if any. */
  firstBadItem(data: MessageShape<Data>): ScanProblem | undefined;
  /** The batch of fully decoded data (its scope groups re-encoded). */
  batchOf(data: MessageShape<Data>): OtlpBatch;
}

/** A scanner of one signal's payloads: its rules and field names compiled once. */
export class SignalScanner<Data extends DescMessage> {
  /** What the scan of this signal differs in. */
  readonly signal: SignalScan<Data>;
  /** The rules of the data message. */
  readonly dataRules: MessageRules;
  /** The rules of the group message. */
  readonly groupRules: MessageRules;
  /** The rules of the scope message. */
  readonly scopeRules: MessageRules;
  /** "TracesData.resource_spans", for error messages; likewise below. */
  readonly groupsName: string;
  /** "ResourceSpans.resource". */
  readonly resourceName: string;
  /** "ResourceSpans.scope_spans". */
  readonly scopesName: string;
  /** "ResourceSpans.schema_url". */
  readonly schemaUrlName: string;
  /** "ScopeSpans.spans". */
  readonly itemsName: string;

  /** Compiles the rules of `signal`'s messages. */
  constructor(signal: SignalScan<Data>) {
    this.signal = signal;
    this.dataRules = rulesOf(signal.data);
    this.groupRules = rulesOf(signal.group);
    this.scopeRules = rulesOf(signal.scope);
    const name = (rules: MessageRules, fieldNo: number) =>
      rules.fields[fieldNo]!.name;
    this.groupsName = name(this.dataRules, 1);
    this.resourceName = name(this.groupRules, 1);
    this.scopesName = name(this.groupRules, 2);
    this.schemaUrlName = name(this.groupRules, 3);
    this.itemsName = name(this.scopeRules, 2);
  }

  /**
   * Reads `payload` (which the batch will share, so it must not change) into
   * a batch; resources are interned through `resources`.
   */
  scan(
    payload: Uint8Array,
    resources: ResourceMemo = new ResourceMemo(),
  ): OtlpBatch | ScanProblem {
    try {
      return new Scan(this, payload, resources).data();
    } catch (e) {
      if (e instanceof Lenient) return this.#decodeFully(payload);
      return this.#notData(e);
    }
  }

  /**
   * The full decoder: for payloads {@linkcode WireWalker} found valid only
   * under fromBinary's lenient reading. Their scope groups are re-encoded,
   * so what leaves is canonical protobuf every receiver reads alike.
   */
  #decodeFully(payload: Uint8Array): OtlpBatch | ScanProblem {
    let data;
    try {
      data = fromBinary(this.signal.data, payload);
    } catch (e) {
      return this.#notData(e);
    }
    return this.signal.firstBadItem(data) ?? this.signal.batchOf(data);
  }

  #notData(e: unknown): ScanProblem {
    return {
      reason: "bad_protobuf",
      detail: `payload is not a ${this.signal.data.name} message: ${
        (e as Error).message
      }`,
    };
  }
}

const resourceRules = rulesOf(ResourceSchema);

class Scan<Data extends DescMessage> {
  readonly #rules: SignalScanner<Data>;
  readonly #walker: WireWalker;
  readonly #resources: ResourceMemo;
  /** The first item with bad ids, reported once the structure is known valid. */
  #bad: { reason: IdReason; item: Uint8Array } | undefined;

  constructor(
    rules: SignalScanner<Data>,
    payload: Uint8Array,
    resources: ResourceMemo,
  ) {
    this.#rules = rules;
    this.#walker = new WireWalker(payload);
    this.#resources = resources;
  }

  data(): OtlpBatch | ScanProblem {
    const walker = this.#walker;
    const groups: EncodedGroup[] = [];
    const end = walker.length;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 1) {
        const stop = walker.enter(wireType, end, this.#rules.groupsName);
        groups.push(this.#group(stop));
      } else {
        walker.field(this.#rules.dataRules, fieldNo, wireType, end, 1);
      }
    }
    if (this.#bad) {
      const { reason, item } = this.#bad;
      return { reason, detail: this.#rules.signal.describe(item, reason) };
    }
    return new OtlpBatch(
      groups,
      undefined,
      undefined,
      this.#rules.signal.signal,
    );
  }

  #group(end: number): EncodedGroup {
    const walker = this.#walker;
    const rules = this.#rules;
    let resource: EncodedResource | undefined;
    let schemaUrl = "";
    const scopes: Uint8Array[] = [];
    let items = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      switch (fieldNo) {
        case 1: {
          const stop = walker.enter(wireType, end, rules.resourceName);
          const body = walker.pos;
          walker.message(resourceRules, stop, 3);
          // A repeated message field merges, as in fromBinary.
          resource = resource
            ? encodeResource(mergeFromBinary(
              ResourceSchema,
              fromBinary(ResourceSchema, resource.bytes),
              walker.bytes(body, stop),
            ))
            : this.#resources.intern(walker.bytes(body, stop));
          break;
        }
        case 2: {
          const stop = walker.enter(wireType, end, rules.scopesName);
          const body = walker.pos;
          items += this.#scope(stop);
          scopes.push(walker.bytes(body, stop));
          break;
        }
        case 3:
          schemaUrl = walker.string(wireType, end, rules.schemaUrlName);
          break;
        default:
          walker.field(rules.groupRules, fieldNo, wireType, end, 2);
      }
    }
    return { resource, schemaUrl, scopes, items };
  }

  #scope(end: number): number {
    const walker = this.#walker;
    let items = 0;
    while (walker.pos < end) {
      const tag = walker.tag();
      const fieldNo = tag >>> 3;
      const wireType = tag & 7;
      if (fieldNo === 2) {
        const stop = walker.enter(wireType, end, this.#rules.itemsName);
        const start = walker.pos;
        const reason = this.#rules.signal.item(walker, stop);
        if (reason && !this.#bad) {
          this.#bad = { reason, item: walker.bytes(start, stop) };
        }
        items++;
      } else {
        walker.field(this.#rules.scopeRules, fieldNo, wireType, end, 3);
      }
    }
    return items;
  }
}

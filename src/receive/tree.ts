/**
 * Renders traces as indented trees for a terminal: one block per trace,
 * children under their parent (by parentSpanId) in start order, each line
 * with the service, span name, kind, duration, status, a few attributes and
 * the number of events. Spans whose parent is not in the batch are shown as
 * roots, marked with "↑" (the parent ended later or in another request).
 * Log records, when given, are drawn as "·" lines under the span they were
 * written in (by trace id and span id), in time order; those of a trace
 * whose span is not in the batch under the trace; those outside any span in
 * one block per service after the traces.
 *
 * @module
 */

import { formatAnyValue, hex, stringAttribute } from "../otlp/mod.ts";
import {
  type Span,
  Span_SpanKind,
  Status_StatusCode,
  type TracesData,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type {
  LogRecord,
  LogsData,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";

/** Options of {@linkcode formatTraces}. */
export interface TreeOptions {
  /** Attributes shown per span at most. Default 3. */
  maxAttributes?: number;
  /** Longest attribute value shown before it is cut. Default 40. */
  maxValueLength?: number;
}

interface Node {
  span: Span;
  service: string;
  children: Node[];
  orphan: boolean;
}

const kindNames: Record<number, string> = {
  [Span_SpanKind.INTERNAL]: "INTERNAL",
  [Span_SpanKind.SERVER]: "SERVER",
  [Span_SpanKind.CLIENT]: "CLIENT",
  [Span_SpanKind.PRODUCER]: "PRODUCER",
  [Span_SpanKind.CONSUMER]: "CONSUMER",
};

/** A log record and the service that wrote it. */
interface LogLine {
  record: LogRecord;
  service: string;
}

/**
 * Returns the trees of all traces in `traces`, one block per trace, ending
 * with a newline; with `logs`, each log record under its span (see the
 * module's description).
 */
export function formatTraces(
  traces: TracesData,
  options: TreeOptions = {},
  logs?: LogsData,
): string {
  // Log records by trace id, then by span id ("" for none).
  const logsByTrace = new Map<string, Map<string, LogLine[]>>();
  const outside = new Map<string, LogRecord[]>();
  for (const rl of logs?.resourceLogs ?? []) {
    const service =
      stringAttribute(rl.resource?.attributes ?? [], "service.name") ?? "?";
    for (const sl of rl.scopeLogs) {
      for (const record of sl.logRecords) {
        const traceId = hex(record.traceId);
        if (traceId === "") {
          let list = outside.get(service);
          if (!list) outside.set(service, list = []);
          list.push(record);
          continue;
        }
        let bySpan = logsByTrace.get(traceId);
        if (!bySpan) logsByTrace.set(traceId, bySpan = new Map());
        const spanId = hex(record.spanId);
        let list = bySpan.get(spanId);
        if (!list) bySpan.set(spanId, list = []);
        list.push({ record, service });
      }
    }
  }
  const byTrace = new Map<string, Node[]>();
  for (const rs of traces.resourceSpans) {
    const service =
      stringAttribute(rs.resource?.attributes ?? [], "service.name") ?? "?";
    for (const ss of rs.scopeSpans) {
      for (const span of ss.spans) {
        const traceId = hex(span.traceId);
        let nodes = byTrace.get(traceId);
        if (!nodes) byTrace.set(traceId, nodes = []);
        nodes.push({ span, service, children: [], orphan: false });
      }
    }
  }
  let out = "";
  const logLines = (lines: LogLine[] | undefined, prefix: string) => {
    for (const line of byTime(lines ?? [])) {
      out += `${prefix}· ${describeLog(line, options)}\n`;
    }
  };
  for (const [traceId, nodes] of byTrace) {
    const bySpanId = new Map(nodes.map((n) => [hex(n.span.spanId), n]));
    const traceLogs = logsByTrace.get(traceId);
    logsByTrace.delete(traceId);
    const roots: Node[] = [];
    for (const node of nodes) {
      const parentId = hex(node.span.parentSpanId);
      const parent = parentId ? bySpanId.get(parentId) : undefined;
      if (parent && parent !== node) {
        parent.children.push(node);
      } else {
        node.orphan = parentId !== "";
        roots.push(node);
      }
    }
    const start = nodes.reduce(
      (m, n) => n.span.startTimeUnixNano < m ? n.span.startTimeUnixNano : m,
      nodes[0].span.startTimeUnixNano,
    );
    const end = nodes.reduce(
      (m, n) => n.span.endTimeUnixNano > m ? n.span.endTimeUnixNano : m,
      0n,
    );
    const count = nodes.length === 1 ? "1 span" : `${nodes.length} spans`;
    out += `trace ${traceId}  ${count}, ${millis(end - start)}\n`;
    // Records of spans not in the batch: under the trace, with their span id.
    for (const [spanId, lines] of traceLogs ?? []) {
      if (bySpanId.has(spanId)) continue;
      logLines(lines, spanId === "" ? "" : `↑ span ${spanId} `);
    }
    const walk = (list: Node[], prefix: string) => {
      list.sort((a, b) =>
        a.span.startTimeUnixNano < b.span.startTimeUnixNano
          ? -1
          : a.span.startTimeUnixNano > b.span.startTimeUnixNano
          ? 1
          : 0
      );
      list.forEach((node, i) => {
        const last = i === list.length - 1;
        out += `${prefix}${last ? "└─ " : "├─ "}${describe(node, options)}\n`;
        const inner = prefix + (last ? "   " : "│  ");
        logLines(traceLogs?.get(hex(node.span.spanId)), inner);
        walk(node.children, inner);
      });
    };
    walk(roots, "");
  }
  // Traces of which only log records came.
  for (const [traceId, bySpan] of logsByTrace) {
    const lines = [...bySpan.values()].flat();
    out += `trace ${traceId}  no spans received, ${records(lines.length)}\n`;
    for (const [spanId, list] of bySpan) {
      logLines(list, spanId === "" ? "" : `↑ span ${spanId} `);
    }
  }
  for (const [service, list] of outside) {
    out += `logs [${service}]  ${records(list.length)} outside any span\n`;
    logLines(list.map((record) => ({ record, service })), "");
  }
  return out;
}

function records(n: number): string {
  return n === 1 ? "1 log record" : `${n} log records`;
}

function byTime(lines: LogLine[]): LogLine[] {
  const time = (r: LogRecord) => r.timeUnixNano || r.observedTimeUnixNano;
  return lines.toSorted((a, b) => {
    const x = time(a.record);
    const y = time(b.record);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

/** Severity, body, event name and a few attributes of a log record. */
function describeLog(line: LogLine, options: TreeOptions): string {
  const { record } = line;
  const parts = [
    record.severityText ||
    (record.severityNumber ? `SEVERITY ${record.severityNumber}` : "-"),
  ];
  if (record.eventName) parts.push(`event=${record.eventName}`);
  if (record.body?.value.case !== undefined) {
    // One line per record: a multi-line body keeps its breaks as \n.
    parts.push(cut(formatAnyValue(record.body).replaceAll("\n", "\\n"), 120));
  }
  parts.push(`[${line.service}]`);
  const maxLen = options.maxValueLength ?? 40;
  const max = options.maxAttributes ?? 3;
  for (const kv of record.attributes.slice(0, max)) {
    parts.push(`${kv.key}=${cut(formatAnyValue(kv.value), maxLen)}`);
  }
  if (record.attributes.length > max) parts.push("…");
  return parts.join("  ");
}

function cut(value: string, maxLen: number): string {
  return value.length > maxLen ? value.slice(0, maxLen - 1) + "…" : value;
}

function describe(node: Node, options: TreeOptions): string {
  const { span } = node;
  const parts = [
    `${node.orphan ? "↑ " : ""}${span.name}`,
    `[${node.service}]`,
    kindNames[span.kind] ?? "UNSPECIFIED",
  ];
  parts.push(millis(span.endTimeUnixNano - span.startTimeUnixNano));
  const status = span.status;
  if (status?.code === Status_StatusCode.ERROR) {
    parts.push(status.message ? `ERROR "${status.message}"` : "ERROR");
  } else if (status?.code === Status_StatusCode.OK) parts.push("OK");
  const maxLen = options.maxValueLength ?? 40;
  for (const kv of span.attributes.slice(0, options.maxAttributes ?? 3)) {
    const value = formatAnyValue(kv.value);
    parts.push(
      `${kv.key}=${
        value.length > maxLen ? value.slice(0, maxLen - 1) + "…" : value
      }`,
    );
  }
  if (span.attributes.length > (options.maxAttributes ?? 3)) parts.push("…");
  if (span.events.length > 0) {
    parts.push(
      span.events.length === 1 ? "(1 event)" : `(${span.events.length} events)`,
    );
  }
  return parts.join("  ");
}

/** Nanoseconds as milliseconds with three decimals, e.g. "1.500 ms". */
function millis(ns: bigint): string {
  const negative = ns < 0n;
  const abs = negative ? -ns : ns;
  const micros = (abs + 500n) / 1000n;
  return `${negative ? "-" : ""}${micros / 1000n}.${
    String(micros % 1000n).padStart(3, "0")
  } ms`;
}

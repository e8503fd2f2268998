/**
 * Renders traces as indented trees for a terminal: one block per trace,
 * children under their parent (by parentSpanId) in start order, each line
 * with the service, span name, kind, duration, status, a few attributes and
 * the number of events. Spans whose parent is not in the batch are shown as
 * roots, marked with "↑" (the parent ended later or in another request).
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

/** Returns the trees of all traces in `traces`, one block per trace, ending with a newline. */
export function formatTraces(
  traces: TracesData,
  options: TreeOptions = {},
): string {
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
  for (const [traceId, nodes] of byTrace) {
    const bySpanId = new Map(nodes.map((n) => [hex(n.span.spanId), n]));
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
        walk(node.children, prefix + (last ? "   " : "│  "));
      });
    };
    walk(roots, "");
  }
  return out;
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

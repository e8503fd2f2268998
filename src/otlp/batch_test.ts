import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { LogsDataSchema } from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { OtlpBatch } from "./batch.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import {
  realisticTraces,
  richTraces,
  sampleBatch,
} from "../../testing/traces.ts";

/** What @bufbuild/protobuf makes of the same batch, decoded. */
function reference(batch: OtlpBatch): Uint8Array {
  return toBinary(TracesDataSchema, batch.toTracesData());
}

Deno.test("OtlpBatch.toBinary writes the bytes @bufbuild/protobuf writes", () => {
  const small = sampleBatch(richTraces());
  // 1 and 300 spans: one-, two- and three-byte lengths of ScopeSpans and
  // ResourceSpans.
  const one = sampleBatch(realisticTraces(1));
  const big = sampleBatch(realisticTraces(300));
  const cases = {
    small,
    one,
    big,
    "several groups, without a resource, with a schema URL": new OtlpBatch([
      ...small.groups,
      { ...one.groups[0], resource: undefined },
      { ...big.groups[0], schemaUrl: "https://example.com/é/1.26.0" },
    ]),
    empty: new OtlpBatch([]),
  };
  for (const [what, batch] of Object.entries(cases)) {
    assertEquals(batch.toBinary(), reference(batch), what);
  }
  assertEquals(
    new OtlpBatch([]).toBinary(),
    toBinary(TracesDataSchema, create(TracesDataSchema)),
  );
});

Deno.test("a logs batch: toBinary writes LogsData as @bufbuild/protobuf does, and reads back as logs only", () => {
  const logs = sampleLogs(sampleLogRecords(300), "svc");
  logs.resourceLogs[0].schemaUrl = "https://example.com/1.26.0";
  const batch = OtlpBatch.fromLogsData(logs);
  assertEquals(batch.signal, "logs");
  assertEquals(batch.items, 300);
  assertEquals(batch.toBinary(), toBinary(LogsDataSchema, logs));
  assertEquals(
    toBinary(LogsDataSchema, batch.toLogsData()),
    toBinary(LogsDataSchema, logs),
  );
  throws(() => batch.toTracesData(), /batch of logs as TracesData/);
  throws(() => sampleBatch(richTraces()).toLogsData(), /batch of traces/);
});

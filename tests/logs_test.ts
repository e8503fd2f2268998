/**
 * Log records end to end: a Go program writing through log/slog and the
 * otelslog bridge over spanbridge's LoggerProvider (testing/slog), traced by
 * `spanbridge run --target`, delivers every log record to /v1/logs with the
 * trace and span id of the span it was written in and the resource its
 * spans get, and the `stopped` line balances for spans and log records.
 */
import assert from "node:assert/strict";
import type { TracesData } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type { LogsData } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { formatAnyValue, hex, stringAttribute } from "../src/otlp/mod.ts";
import { formatTraces, startReceiver } from "../src/receive/mod.ts";
import { create } from "@bufbuild/protobuf";
import { TracesDataSchema } from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { LogsDataSchema } from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { ebpfTest } from "../testing/ebpf.ts";
import { buildSlogProgram } from "../testing/slog_program.ts";
import {
  ControllerProcess,
  removePinRoot,
  runProgram,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";

ebpfTest(
  "every log record written through slog arrives at /v1/logs with its span's ids and its process's resource; the stopped line balances per signal",
  async () => {
    const spans = 200;
    const traces: TracesData[] = [];
    const logs: LogsData[] = [];
    const receiver = await startReceiver({
      port: 0,
      onTraces: (t) => traces.push(t),
      onLogs: (l) => logs.push(l),
    });
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-logs-e2e-" });
    const pinRoot = testPinRoot("logs");
    let controller: ControllerProcess | undefined;
    try {
      const exe = await buildSlogProgram(`${dir}/logs`);
      controller = new ControllerProcess([
        "run",
        "--target",
        exe,
        "--pin-root",
        pinRoot,
        "--instance",
        "ctllogs-logs-e2e",
        "--no-status",
      ], {
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://${receiver.addr}`,
        OTEL_EXPORTER_OTLP_LOGS_PROTOCOL: "http/json",
      });
      await controller.waitFor("attached");
      await runProgram(exe, ["-n", `${spans}`]);
      const records = 2 * spans + 1;
      await waitUntil(
        () =>
          receiver.counters().spans >= spans &&
          receiver.counters().logRecords >= records,
        20_000,
        `${spans} spans and ${records} log records`,
      ).catch((e) => {
        throw new Error(
          `${e.message}: have ${receiver.counters().spans} spans, ${receiver.counters().logRecords} log records\n${
            controller!.dump()
          }`,
        );
      });
      assert.equal((await controller.stop()).code, 0, controller.dump());
      const stopped = await controller.waitFor("stopped");
      const summary = stopped as unknown as {
        received: number;
        exported: number;
        dropped: number;
        logs: Record<string, number>;
        recordsCorrupt: number;
        batchesLost: number;
      };
      assert.deepEqual(
        [summary.received, summary.exported, summary.dropped],
        [spans, spans, 0],
        JSON.stringify(stopped),
      );
      assert.deepEqual(
        [summary.logs.received, summary.logs.exported, summary.logs.dropped],
        [records, records, 0],
        JSON.stringify(stopped),
      );
      assert.equal(summary.recordsCorrupt, 0);
      assert.equal(summary.batchesLost, 0);

      // Each record in the span it was written in.
      const spanIds = new Map<string, string>();
      const allTraces = create(TracesDataSchema, {
        resourceSpans: traces.flatMap((t) => t.resourceSpans),
      });
      for (const rs of allTraces.resourceSpans) {
        for (const ss of rs.scopeSpans) {
          for (const span of ss.spans) {
            spanIds.set(`${hex(span.traceId)}/${hex(span.spanId)}`, span.name);
          }
        }
      }
      const allLogs = create(LogsDataSchema, {
        resourceLogs: logs.flatMap((l) => l.resourceLogs),
      });
      const spanResource = allTraces.resourceSpans[0].resource!;
      let inSpans = 0;
      for (const rl of allLogs.resourceLogs) {
        assert.deepEqual(rl.resource, spanResource, "logs and spans resources");
        for (const sl of rl.scopeLogs) {
          assert.equal(sl.scope?.name, "spanbridge/testing/slog");
          for (const record of sl.logRecords) {
            const body = formatAnyValue(record.body);
            if (body === "starting") {
              assert.equal(record.traceId.length, 0);
              continue;
            }
            const i = record.attributes.find((kv) => kv.key === "i")?.value
              ?.value.value;
            const name = spanIds.get(
              `${hex(record.traceId)}/${hex(record.spanId)}`,
            );
            assert.equal(name, `op ${i}`, `record "${body}" of i=${i}`);
            assert.equal(record.flags & 1, 1, "sampled");
            inSpans++;
          }
        }
      }
      assert.equal(inSpans, 2 * spans);
      assert.ok(
        stringAttribute(spanResource.attributes, "service.name"),
        "a service name",
      );

      // `spanbridge receive` prints them under their spans.
      const service = stringAttribute(spanResource.attributes, "service.name");
      const lines = formatTraces(allTraces, {}, allLogs).split("\n");
      const op7 = lines.findIndex((l) => l.startsWith(`└─ op 7  [${service}]`));
      assert.deepEqual(lines.slice(op7 + 1, op7 + 3), [
        `   · INFO  working  [${service}]  i=7`,
        `   · WARN  slow step  [${service}]  i=7  step=db`,
      ]);
      const outside = lines.indexOf(
        `logs [${service}]  1 log record outside any span`,
      );
      assert.equal(
        lines[outside + 1],
        `· INFO  starting  [${service}]  spans=${spans}`,
      );
    } finally {
      if (controller) await stopIfRunning(controller);
      await receiver.close();
      await removePinRoot(pinRoot);
      await Deno.remove(dir, { recursive: true });
    }
  },
);

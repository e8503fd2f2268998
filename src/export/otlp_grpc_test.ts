// OTLP/gRPC partial success: the Collector's receiver never answers with
// one, so a gRPC server of the tests' own (grpc-js) does. The Collector
// cases (refusals, retries, deadlines, TLS) are in tests/grpc_export_test.ts.
import { deepStrictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import * as grpc from "@grpc/grpc-js";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { OtlpBatch } from "../otlp/mod.ts";
import { ExportTraceServiceResponseSchema } from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import { richTraces, sampleBatch } from "../../testing/traces.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";
import { otlpTransportConfig } from "./otlp_transport.ts";

/**
 * A grpc-js server on a free loopback port with one unary method at `path`
 * that passes bytes through: `answer` gets each call and returns the
 * response's bytes.
 */
async function unaryServer(
  path: string,
  answer: (call: grpc.ServerUnaryCall<Buffer, Buffer>) => Uint8Array,
): Promise<{ port: number; close(): Promise<void> }> {
  const identity = (b: Buffer) => b;
  const server = new grpc.Server();
  server.addService({
    export: {
      path,
      requestStream: false,
      responseStream: false,
      requestSerialize: identity,
      requestDeserialize: identity,
      responseSerialize: identity,
      responseDeserialize: identity,
    },
  }, {
    export: (
      call: grpc.ServerUnaryCall<Buffer, Buffer>,
      done: grpc.sendUnaryData<Buffer>,
    ) => done(null, Buffer.from(answer(call))),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createInsecure(),
      (err, port) => err ? reject(err) : resolve(port),
    )
  );
  const close = () =>
    new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
  return { port, close };
}

Deno.test("OTLP exporter over gRPC reports a partial success and sends the headers as metadata", async () => {
  const tenants: unknown[] = [];
  const server = await unaryServer(
    "/opentelemetry.proto.collector.trace.v1.TraceService/Export",
    (call) => {
      tenants.push(...call.metadata.get("x-scope-orgid"));
      const answer = create(ExportTraceServiceResponseSchema, {
        partialSuccess: { rejectedSpans: 2n, errorMessage: "spans too old" },
      });
      return toBinary(ExportTraceServiceResponseSchema, answer);
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("traces", {
    protocol: "grpc",
    url: `http://127.0.0.1:${server.port}`,
    headers: { "X-Scope-OrgID": "tenant-a" },
  }));
  try {
    deepStrictEqual(await exporter.export(sampleBatch(richTraces())), {
      ok: true,
      rejected: 2,
      message: "spans too old",
    });
    deepStrictEqual(tenants, ["tenant-a"]);
  } finally {
    await exporter.shutdown();
    await server.close();
  }
});

Deno.test("OTLP exporter over gRPC sends log batches to LogsService/Export as LogsData bytes and reads their partial success", async () => {
  const got: Uint8Array[] = [];
  const server = await unaryServer(
    "/opentelemetry.proto.collector.logs.v1.LogsService/Export",
    (call) => {
      got.push(new Uint8Array(call.request));
      const answer = create(ExportLogsServiceResponseSchema, {
        partialSuccess: { rejectedLogRecords: 1n, errorMessage: "too old" },
      });
      return toBinary(ExportLogsServiceResponseSchema, answer);
    },
  );
  const exporter = createOtlpExporter(otlpTransportConfig("logs", {
    protocol: "grpc",
    url: `http://127.0.0.1:${server.port}`,
  }));
  const logs = sampleLogs(sampleLogRecords(3));
  try {
    deepStrictEqual(
      await exporter.export(OtlpBatch.fromLogsData(logs)),
      { ok: true, rejected: 1, message: "too old" },
    );
    deepStrictEqual(
      got.map((bytes) => fromBinary(ExportLogsServiceRequestSchema, bytes)),
      [create(ExportLogsServiceRequestSchema, {
        resourceLogs: logs.resourceLogs,
      })],
    );
  } finally {
    await exporter.shutdown();
    await server.close();
  }
});

import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { gzipSync } from "node:zlib";
import { StatusSchema } from "../../gen/google/rpc/status_pb.ts";
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import type { TracesData } from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import { sampleSpans, sampleTraces } from "../../testing/traces.ts";
import { toOtlpJson } from "../otlp/mod.ts";
import { type OtlpFormat, startReceiver } from "./receiver.ts";
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import type { LogsData } from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { sampleLogRecords, sampleLogs } from "../../testing/logs.ts";
import { logsToOtlpJson } from "../otlp/mod.ts";

const request = create(ExportTraceServiceRequestSchema, {
  resourceSpans: sampleTraces(sampleSpans(3)).resourceSpans,
});
const protobufBody = toBinary(ExportTraceServiceRequestSchema, request);
const jsonBody = JSON.stringify(toOtlpJson(request));

async function withReceiver(
  fn: (url: string, got: [TracesData, OtlpFormat][]) => Promise<void>,
) {
  const got: [TracesData, OtlpFormat][] = [];
  const receiver = await startReceiver({
    port: 0,
    onTraces: (t, f) => got.push([t, f]),
  });
  try {
    await fn(receiver.url, got);
  } finally {
    await receiver.close();
  }
}

function post(url: string, body: BodyInit, headers: Record<string, string>) {
  return fetch(url, { method: "POST", body, headers });
}

Deno.test("receiver accepts protobuf and answers with an ExportTraceServiceResponse", async () => {
  await withReceiver(async (url, got) => {
    const res = await post(url, protobufBody, {
      "content-type": "application/x-protobuf",
    });
    strictEqual(res.status, 200);
    strictEqual(res.headers.get("content-type"), "application/x-protobuf");
    const answer = fromBinary(
      ExportTraceServiceResponseSchema,
      new Uint8Array(await res.arrayBuffer()),
    );
    strictEqual(answer.partialSuccess, undefined);
    strictEqual(got.length, 1);
    strictEqual(got[0][1], "protobuf");
    strictEqual(got[0][0].resourceSpans[0].scopeSpans[0].spans.length, 3);
  });
});

Deno.test("receiver accepts JSON (with a charset) and answers in JSON", async () => {
  await withReceiver(async (url, got) => {
    const res = await post(url, jsonBody, {
      "content-type": "application/json; charset=utf-8",
    });
    strictEqual(res.status, 200);
    strictEqual(res.headers.get("content-type"), "application/json");
    deepStrictEqual(await res.json(), {});
    strictEqual(got[0][1], "json");
    deepStrictEqual(
      got[0][0].resourceSpans[0].scopeSpans[0].spans[0].traceId,
      new Uint8Array(16).fill(1),
    );
  });
});

Deno.test("receiver accepts gzip-compressed bodies", async () => {
  await withReceiver(async (url, got) => {
    for (
      const [body, type] of [[protobufBody, "application/x-protobuf"], [
        jsonBody,
        "application/json",
      ]] as const
    ) {
      const res = await post(url, new Uint8Array(gzipSync(body)), {
        "content-type": type,
        "content-encoding": "gzip",
      });
      strictEqual(res.status, 200, await res.text());
    }
    strictEqual(got.length, 2);
  });
});

Deno.test("receiver answers 415 to an unknown content type or encoding", async () => {
  await withReceiver(async (url, got) => {
    let res = await post(url, "hello", { "content-type": "text/plain" });
    strictEqual(res.status, 415);
    const status = fromBinary(
      StatusSchema,
      new Uint8Array(await res.arrayBuffer()),
    );
    ok(
      status.message.includes('Unsupported content type "text/plain"'),
      status.message,
    );
    res = await post(url, protobufBody, {
      "content-type": "application/x-protobuf",
      "content-encoding": "br",
    });
    strictEqual(res.status, 415);
    await res.body?.cancel();
    strictEqual(got.length, 0);
  });
});

Deno.test("receiver answers 400 with a Status to a bad payload", async () => {
  await withReceiver(async (url, got) => {
    let res = await post(url, Uint8Array.of(0x0a, 0xff, 0xff), {
      "content-type": "application/x-protobuf",
    });
    strictEqual(res.status, 400);
    ok(
      fromBinary(StatusSchema, new Uint8Array(await res.arrayBuffer())).message
        .startsWith("Cannot decode the protobuf"),
    );
    res = await post(url, "{not json", { "content-type": "application/json" });
    strictEqual(res.status, 400);
    const status = await res.json();
    strictEqual(status.code, 3);
    ok(status.message.startsWith("Cannot decode the json request body"));
    res = await post(url, "not gzip", {
      "content-type": "application/json",
      "content-encoding": "gzip",
    });
    strictEqual(res.status, 400);
    await res.body?.cancel();
    strictEqual(got.length, 0);
  });
});

Deno.test("receiver answers 404 and 405 outside POST /v1/traces and /v1/logs", async () => {
  await withReceiver(async (url) => {
    let res = await fetch(url);
    strictEqual(res.status, 405);
    strictEqual(res.headers.get("allow"), "POST");
    await res.body?.cancel();
    res = await post(url.replace("/v1/traces", "/v1/metrics"), protobufBody, {
      "content-type": "application/x-protobuf",
    });
    strictEqual(res.status, 404);
    await res.body?.cancel();
  });
});

/** A receiver on a free port that prints into `printed`, held for `delayMs`. */
async function printingReceiver(delayMs: number) {
  const printed: string[] = [];
  const receiver = await startReceiver({
    port: 0,
    print: true,
    printDelayMs: delayMs,
    write: (t) => printed.push(t),
  });
  return { receiver, printed };
}

Deno.test("receiver counts requests and spans and prints trees when asked", async () => {
  const { receiver, printed } = await printingReceiver(0);
  try {
    const res = await post(receiver.url, protobufBody, {
      "content-type": "application/x-protobuf",
    });
    await res.body?.cancel();
    await (await post(receiver.url, "x", { "content-type": "text/plain" })).body
      ?.cancel();
    deepStrictEqual(receiver.counters(), {
      requests: 1,
      spans: 3,
      rejectedSpans: 0,
      logRecords: 0,
      rejectedLogRecords: 0,
      failedRequests: 1,
    });
    strictEqual(printed.length, 1);
    ok(printed[0].startsWith(`trace ${"01".repeat(16)}`));
    ok(receiver.addr.startsWith("127.0.0.1:"));
  } finally {
    await receiver.close();
  }
});

Deno.test("startReceiver fails with a clear error when the port is taken", async () => {
  const first = await startReceiver({ port: 0 });
  try {
    await startReceiver({ port: first.port }).then(
      () => Promise.reject(new Error("second receiver started")),
      (e: Error) =>
        ok(
          e.message.startsWith(`Cannot listen on 127.0.0.1:${first.port}: `),
          e.message,
        ),
    );
  } finally {
    await first.close();
  }
});

const logsRequest = create(ExportLogsServiceRequestSchema, {
  resourceLogs: sampleLogs(sampleLogRecords(3)).resourceLogs,
});

Deno.test("receiver accepts logs in protobuf and JSON on /v1/logs, answering in kind, and counts log records", async () => {
  const got: [LogsData, OtlpFormat][] = [];
  const receiver = await startReceiver({
    port: 0,
    onLogs: (l, f) => got.push([l, f]),
    logsPartialSuccess: (logs) =>
      logs.resourceLogs.length > 0
        ? { rejectedLogRecords: 1, errorMessage: "one too many" }
        : undefined,
  });
  try {
    strictEqual(receiver.logsUrl, receiver.url.replace("traces", "logs"));
    let res = await post(
      receiver.logsUrl,
      toBinary(ExportLogsServiceRequestSchema, logsRequest),
      { "content-type": "application/x-protobuf" },
    );
    strictEqual(res.status, 200);
    const answer = fromBinary(
      ExportLogsServiceResponseSchema,
      new Uint8Array(await res.arrayBuffer()),
    );
    strictEqual(answer.partialSuccess?.rejectedLogRecords, 1n);
    res = await post(
      receiver.logsUrl,
      JSON.stringify(logsToOtlpJson(logsRequest)),
      { "content-type": "application/json" },
    );
    strictEqual(res.status, 200);
    strictEqual((await res.json()).partialSuccess.rejectedLogRecords, "1");
    res = await post(receiver.logsUrl, "{bad", {
      "content-type": "application/json",
    });
    strictEqual(res.status, 400);
    ok((await res.json()).message.startsWith("Cannot decode the json logs"));
    deepStrictEqual(got.map(([, f]) => f), ["protobuf", "json"]);
    deepStrictEqual(
      got.map(([l]) => l.resourceLogs[0].scopeLogs[0].logRecords[2].spanId),
      [0, 1].map(() =>
        logsRequest.resourceLogs[0].scopeLogs[0].logRecords[2].spanId
      ),
    );
    const c = receiver.counters();
    deepStrictEqual([
      c.requests,
      c.logRecords,
      c.rejectedLogRecords,
      c.spans,
      c.failedRequests,
    ], [2, 4, 2, 0, 1]);
  } finally {
    await receiver.close();
  }
});

Deno.test("receiver holds what arrives and prints log records under their spans, whichever came first", async () => {
  const { receiver, printed } = await printingReceiver(60_000);
  try {
    // The logs first: they are held, not printed without their spans.
    (await post(
      receiver.logsUrl,
      toBinary(ExportLogsServiceRequestSchema, logsRequest),
      {
        "content-type": "application/x-protobuf",
      },
    )).body?.cancel();
    (await post(receiver.url, protobufBody, {
      "content-type": "application/x-protobuf",
    })).body?.cancel();
    strictEqual(printed.length, 0);
  } finally {
    // Closing prints what is held.
    await receiver.close();
  }
  strictEqual(printed.length, 1);
  const lines = printed[0].split("\n");
  strictEqual(
    lines[1],
    "└─ GET /  [demo]  SERVER  1.500 ms  OK  db.system=sqlite",
  );
  strictEqual(lines[2], "   · INFO  line 0  [demo]  user=u0");
  ok(lines.includes("      · INFO  line 2  [demo]  user=u2"), printed[0]);
});

Deno.test("receiver flush prints what it holds at once", async () => {
  const { receiver, printed } = await printingReceiver(60_000);
  try {
    (await post(receiver.url, protobufBody, {
      "content-type": "application/x-protobuf",
    })).body?.cancel();
    strictEqual(printed.length, 0);
    receiver.flush();
    strictEqual(printed.length, 1);
    receiver.flush();
    strictEqual(printed.length, 1, "nothing held: nothing printed");
  } finally {
    await receiver.close();
  }
  strictEqual(printed.length, 1);
});

Deno.test("receiver printing to a closed output neither throws from its timer nor stops receiving", async () => {
  let tries = 0;
  const receiver = await startReceiver({
    port: 0,
    print: true,
    printDelayMs: 1,
    write: () => {
      tries++;
      throw new Deno.errors.BrokenPipe("Broken pipe (os error 32)");
    },
  });
  try {
    for (let i = 0; i < 2; i++) {
      const res = await post(receiver.url, protobufBody, {
        "content-type": "application/x-protobuf",
      });
      strictEqual(res.status, 200);
      await res.body?.cancel();
      await new Promise((r) => setTimeout(r, 20));
    }
    strictEqual(tries, 2);
    strictEqual(receiver.counters().spans, 6);
  } finally {
    await receiver.close();
  }
});

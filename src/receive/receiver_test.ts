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

Deno.test("receiver answers 404 and 405 outside POST /v1/traces", async () => {
  await withReceiver(async (url) => {
    let res = await fetch(url);
    strictEqual(res.status, 405);
    strictEqual(res.headers.get("allow"), "POST");
    await res.body?.cancel();
    res = await post(url.replace("/v1/traces", "/v1/logs"), protobufBody, {
      "content-type": "application/x-protobuf",
    });
    strictEqual(res.status, 404);
    await res.body?.cancel();
  });
});

Deno.test("receiver counts requests and spans and prints trees when asked", async () => {
  const printed: string[] = [];
  const receiver = await startReceiver({
    port: 0,
    print: true,
    write: (t) => printed.push(t),
  });
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

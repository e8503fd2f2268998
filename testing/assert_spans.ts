/**
 * The span-by-span comparison of the end-to-end tests: what the showcase
 * example recorded (its `-record` file) against what an OTLP receiver got.
 *
 * @module
 */
import assert from "node:assert/strict";
import { attributeMap, type Json, type ReceivedSpan } from "./receiver.ts";
import { type ControllerProcess, runProgram } from "./harness.ts";

/** What `showcase -record FILE` writes: every span it made, as OTLP JSON. */
export interface ShowcaseRecord {
  resource: Record<string, string>;
  spans: Json[];
  mustNotArrive: { name: string; traceId: string; spanId: string }[];
}

/**
 * Runs the showcase at `exe` as the e2e tests do (service "showcase-e2e",
 * waiting up to 10 s for a controller to attach) and returns what it
 * recorded into `recordFile`.
 */
export async function recordShowcase(
  exe: string,
  recordFile: string,
  env: Record<string, string> = {},
): Promise<ShowcaseRecord> {
  await runProgram(exe, ["-record", recordFile, "-wait-attach", "10s"], {
    OTEL_SERVICE_NAME: "showcase-e2e",
    ...env,
  });
  return JSON.parse(await Deno.readTextFile(recordFile));
}

/**
 * Asserts that `received` holds every span of `record` exactly once, exactly
 * as the Go program made it (names, ids, parents, kinds, timestamps to the
 * nanosecond, typed attributes, events, links, status, dropped counts, scope
 * and resource), all in `format`, and none of the spans that must not
 * arrive. The order of spans and how they were grouped into requests do not
 * matter. `program` names the service and executable the resource must
 * have (by default the showcase as the e2e tests run it).
 */
export function assertSpans(
  record: ShowcaseRecord,
  received: ReceivedSpan[],
  format: string,
  program = { service: "showcase-e2e", executable: "showcase" },
): void {
  const bySpanId = new Map<string, ReceivedSpan>();
  for (const r of received) {
    assert.ok(
      !bySpanId.has(r.span.spanId),
      `span ${r.span.spanId} (${r.span.name}) arrived twice`,
    );
    bySpanId.set(r.span.spanId, r);
    assert.equal(r.format, format);
  }
  assert.equal(received.length, record.spans.length, "number of spans");

  for (const want of record.spans) {
    const got = bySpanId.get(want.spanId);
    const where = `span "${want.name}" (${want.spanId})`;
    assert.ok(got, `${where} did not arrive`);
    const span = got.span;
    assert.equal(span.name, want.name, `${where}: name`);
    assert.equal(span.traceId, want.traceId, `${where}: traceId`);
    assert.equal(
      span.parentSpanId ?? "",
      want.parentSpanId,
      `${where}: parentSpanId`,
    );
    assert.equal(
      span.traceState ?? "",
      want.traceState,
      `${where}: traceState`,
    );
    assert.equal(span.flags ?? 0, want.flags, `${where}: flags`);
    assert.equal(span.kind ?? 0, want.kind, `${where}: kind`);
    assert.equal(
      span.startTimeUnixNano,
      want.startTimeUnixNano,
      `${where}: start time`,
    );
    assert.equal(
      span.endTimeUnixNano,
      want.endTimeUnixNano,
      `${where}: end time`,
    );
    assert.deepEqual(
      span.attributes ?? [],
      want.attributes,
      `${where}: attributes`,
    );
    assert.equal(
      span.droppedAttributesCount ?? 0,
      want.droppedAttributesCount,
      `${where}: dropped attributes`,
    );
    assert.equal(
      span.droppedEventsCount ?? 0,
      want.droppedEventsCount,
      `${where}: dropped events`,
    );
    assert.equal(
      span.droppedLinksCount ?? 0,
      want.droppedLinksCount,
      `${where}: dropped links`,
    );
    assert.deepEqual(
      span.status ?? {},
      statusJson(want.status),
      `${where}: status`,
    );

    assert.equal(
      (span.events ?? []).length,
      want.events.length,
      `${where}: number of events`,
    );
    want.events.forEach((we: Json, i: number) => {
      const ge = span.events[i];
      assert.equal(ge.name, we.name, `${where}: event ${i} name`);
      assert.equal(
        ge.timeUnixNano,
        we.timeUnixNano,
        `${where}: event ${i} time`,
      );
      assert.equal(
        ge.droppedAttributesCount ?? 0,
        we.droppedAttributesCount,
        `${where}: event ${i} dropped`,
      );
      const attrs = attributeMap(ge);
      for (const key of we.presentKeys) {
        assert.ok(
          attrs.get(key)?.stringValue,
          `${where}: event ${i} lacks ${key}`,
        );
        attrs.delete(key);
      }
      assert.deepEqual(
        [...attrs].map(([key, value]) => ({ key, value })),
        we.attributes,
        `${where}: event ${i} attributes`,
      );
    });

    assert.equal(
      (span.links ?? []).length,
      want.links.length,
      `${where}: number of links`,
    );
    want.links.forEach((wl: Json, i: number) => {
      const gl = span.links[i];
      assert.equal(gl.traceId, wl.traceId, `${where}: link ${i} traceId`);
      assert.equal(gl.spanId, wl.spanId, `${where}: link ${i} spanId`);
      assert.equal(
        gl.traceState ?? "",
        wl.traceState,
        `${where}: link ${i} traceState`,
      );
      assert.equal(gl.flags ?? 0, wl.flags, `${where}: link ${i} flags`);
      assert.deepEqual(
        gl.attributes ?? [],
        wl.attributes,
        `${where}: link ${i} attributes`,
      );
      assert.equal(
        gl.droppedAttributesCount ?? 0,
        wl.droppedAttributesCount,
        `${where}: link ${i} dropped`,
      );
    });

    const scope = want.scope;
    assert.equal(got.scope.name, scope.name, `${where}: scope name`);
    assert.equal(
      got.scope.version ?? "",
      scope.version,
      `${where}: scope version`,
    );
    assert.deepEqual(
      got.scope.attributes ?? [],
      scope.attributes,
      `${where}: scope attributes`,
    );

    const resource = attributeMap(got.resource);
    for (const [key, value] of Object.entries(record.resource)) {
      assert.equal(
        resource.get(key)?.stringValue,
        value,
        `${where}: resource ${key}`,
      );
    }
    assert.equal(
      resource.get("service.name")?.stringValue,
      program.service,
      `${where}: resource service.name`,
    );
    assert.equal(
      resource.get("telemetry.distro.name")?.stringValue,
      "spanbridge",
    );
    assert.equal(resource.get("process.runtime.name")?.stringValue, "go");
    assert.equal(
      resource.get("process.executable.name")?.stringValue,
      program.executable,
      `${where}: resource process.executable.name`,
    );
    assert.ok(
      resource.get("process.pid")?.intValue,
      `${where}: resource process.pid`,
    );
    assert.ok(
      resource.get("host.name")?.stringValue,
      `${where}: resource host.name`,
    );
  }

  for (const missing of record.mustNotArrive) {
    assert.ok(
      !bySpanId.has(missing.spanId),
      `non-sampled span "${missing.name}" arrived`,
    );
  }
}

function statusJson(status: { code: number; message: string }): Json {
  const json: Json = {};
  if (status.message) json.message = status.message;
  if (status.code) json.code = status.code;
  return json;
}

/**
 * Stops `controller` with SIGTERM and checks it exited 0 with every one of
 * `spans` spans received and exported, and nothing dropped, lost or corrupt.
 */
export async function stopAndAssertNothingLost(
  controller: ControllerProcess,
  spans: number,
): Promise<void> {
  const status = await controller.stop();
  assert.equal(status.code, 0, controller.dump());
  const stopped = await controller.waitFor("stopped");
  assert.equal(stopped.received, spans, controller.dump());
  assert.equal(stopped.exported, spans);
  assert.equal(stopped.dropped, 0);
  assert.equal(stopped.recordsLost, 0);
  assert.equal(stopped.recordsCorrupt, 0);
}

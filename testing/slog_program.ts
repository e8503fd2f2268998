/**
 * The log test program (testing/slog: log/slog through the otelslog bridge
 * over spanbridge's LoggerProvider): building it, the record of what it
 * logged (its -record file), and the record-by-record comparison of that
 * record with the log records a receiver got.
 *
 * @module
 */
import assert from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  type LogsData,
  LogsDataSchema,
  SeverityNumber,
} from "../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import {
  type TracesData,
  TracesDataSchema,
} from "../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import type { Resource } from "../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import type { AnyValue } from "../gen/opentelemetry/proto/common/v1/common_pb.ts";
import { hex } from "../src/otlp/mod.ts";
import { type Receiver, startReceiver } from "../src/receive/mod.ts";
import {
  type ControllerProcess,
  removePinRoot,
  root,
  runProgram,
  stopIfRunning,
  testPinRoot,
  traceTarget,
  waitUntil,
} from "./harness.ts";
import { stopAndAssertNothingLost } from "./assert_spans.ts";

/** The instrumentation scope testing/slog logs under. */
export const slogScope = "spanbridge/testing/slog";

/** One record as testing/slog logged it (an element of its -record file). */
export interface SlogRecord {
  timeUnixNano: string;
  body: string;
  /** slog's level name: INFO, WARN... */
  level: string;
  /** Attribute values as slog resolved them (numbers for ints). */
  attributes: Record<string, string | number | boolean>;
  /** Hex ids of the span it was written in; empty outside any span. */
  traceId: string;
  spanId: string;
  sampled: boolean;
}

/**
 * Builds testing/slog into `out` (a static binary with `static`, for an
 * image of that one file); returns `out`.
 */
export async function buildSlogProgram(
  out: string,
  options: { static?: boolean } = {},
): Promise<string> {
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", out, "."],
    cwd: `${root}testing/slog`,
    env: options.static ? { CGO_ENABLED: "0" } : {},
    stdin: "null",
  }).output();
  if (code !== 0) {
    throw new Error(
      `go build of testing/slog failed: ${new TextDecoder().decode(stderr)}`,
    );
  }
  return out;
}

/** testing/slog built for one test and a controller tracing it. */
export interface TracedSlog {
  /** The test's temporary directory (the program, its -record file). */
  dir: string;
  /** The built program. */
  exe: string;
  /** The controller's pin root. */
  pinRoot: string;
  /** `spanbridge run --target exe`, attached. */
  controller: ControllerProcess;
  /** Where {@linkcode TracedSlog.run} has the program write its record. */
  recordPath: string;
  /** Runs the program once to completion: `spans` spans, recorded. */
  run(spans: number): Promise<void>;
  /** Stops the controller if it runs, removes the pin root and the directory. */
  close(): Promise<void>;
}

/** Options of {@linkcode traceSlog}. */
export interface TraceSlogOptions {
  /** Names the temporary directory and the pin root. */
  tag: string;
  /** The controller's --instance. */
  instance: string;
  /** The controller's environment (OTEL_*). */
  env: Record<string, string>;
}

/**
 * Builds testing/slog into a temporary directory, starts
 * `spanbridge run --target` on it and waits for "attached"; cleans up
 * itself when that fails.
 */
export async function traceSlog(
  options: TraceSlogOptions,
): Promise<TracedSlog> {
  const dir = await Deno.makeTempDir({ prefix: `spanbridge-${options.tag}-` });
  const pinRoot = testPinRoot(options.tag);
  let controller: ControllerProcess | undefined;
  const close = async () => {
    if (controller) await stopIfRunning(controller);
    await removePinRoot(pinRoot);
    await Deno.remove(dir, { recursive: true });
  };
  try {
    const exe = await buildSlogProgram(`${dir}/slog`);
    controller = traceTarget(exe, pinRoot, options.instance, options.env);
    await controller.waitFor("attached");
    const recordPath = `${dir}/record.json`;
    const run = async (spans: number) => {
      await runProgram(exe, ["-n", `${spans}`, "-record", recordPath]);
    };
    return { dir, exe, pinRoot, controller, recordPath, run, close };
  } catch (e) {
    await close();
    throw e;
  }
}

/**
 * Runs `traced`'s program (`spans` spans), waits up to 20 s until `sink` got
 * its spans and log records (`through`: the way they came, for the error,
 * which shows the controller's log and those of `also`), then stops the
 * controller and checks its `stopped` line for both signals.
 */
export async function runAndDeliver(
  traced: TracedSlog,
  sink: SlogSink,
  spans: number,
  through = "",
  also: Record<string, { dump(): string }> = {},
): Promise<void> {
  const records = slogRecordCount(spans);
  await traced.run(spans);
  await sink.waitForBoth(
    spans,
    records,
    20_000,
    through,
    () =>
      Object.entries({ controller: traced.controller, ...also })
        .map(([name, p]) => `${name}:\n${p.dump()}`).join("\n"),
  );
  await stopAndAssertBothSignals(traced.controller, spans, records);
}

/** Reads a -record file of testing/slog. */
export async function readSlogRecord(path: string): Promise<SlogRecord[]> {
  return JSON.parse(await Deno.readTextFile(path));
}

/** The log records of `spans` spans testing/slog -n `spans` writes. */
export function slogRecordCount(spans: number): number {
  return 2 * spans + 1;
}

/** otelslog's severity number of each slog level the program uses. */
const severities: Record<string, SeverityNumber> = {
  INFO: SeverityNumber.INFO,
  WARN: SeverityNumber.WARN,
};

/** What to expect beyond the record itself. */
export interface ExpectedLogs {
  /** Every record's resource, exactly (e.g. that of the same process's spans). */
  resource: Resource;
}

/**
 * Asserts that `received` holds exactly the records of `recorded`, each once:
 * body, severity number and text, typed attributes, timestamp (observed not
 * before it), trace id, span id and sampled flag, the scope, and
 * `expected.resource` as the resource of each.
 */
export function assertSlogRecords(
  recorded: SlogRecord[],
  received: LogsData[],
  expected: ExpectedLogs,
): void {
  const all = create(LogsDataSchema, {
    resourceLogs: received.flatMap((l) => l.resourceLogs),
  });
  const want = new Map(recorded.map((r) => [keyOf(r), r]));
  assert.equal(want.size, recorded.length, "the record has unique keys");
  const seen = new Set<string>();
  for (const rl of all.resourceLogs) {
    assert.deepEqual(
      sortedAttributes(rl.resource),
      sortedAttributes(expected.resource),
      "a log record's resource",
    );
    for (const sl of rl.scopeLogs) {
      assert.equal(sl.scope?.name, slogScope, "scope");
      for (const got of sl.logRecords) {
        const body = anyText(got.body);
        const key = keyOf({
          traceId: hex(got.traceId),
          spanId: hex(got.spanId),
          body,
        });
        const r = want.get(key);
        assert.ok(r, `a log record nobody logged: ${key}`);
        assert.ok(!seen.has(key), `log record ${key} arrived twice`);
        seen.add(key);
        assert.equal(
          got.timeUnixNano,
          BigInt(r.timeUnixNano),
          `time of ${key}`,
        );
        assert.ok(
          got.observedTimeUnixNano >= got.timeUnixNano,
          `observed time of ${key} is not before its time`,
        );
        assert.equal(
          got.severityNumber,
          severities[r.level],
          `severity of ${key}`,
        );
        assert.equal(got.severityText, r.level, `severity text of ${key}`);
        assert.equal(
          got.flags & 1,
          r.sampled ? 1 : 0,
          `sampled flag of ${key}`,
        );
        assert.deepEqual(
          Object.fromEntries(
            got.attributes.map((kv) => [kv.key, anyValue(kv.value)]),
          ),
          r.attributes,
          `attributes of ${key}`,
        );
      }
    }
  }
  const missing = [...want.keys()].filter((k) => !seen.has(k));
  assert.deepEqual(missing, [], "log records that did not arrive");
}

/**
 * Stops `controller` and checks its `stopped` line balances for both
 * signals: `spans` spans and `records` log records received and exported,
 * nothing dropped, lost or corrupt.
 */
export async function stopAndAssertBothSignals(
  controller: ControllerProcess,
  spans: number,
  records: number,
): Promise<void> {
  await stopAndAssertNothingLost(controller, spans);
  const stopped = await controller.waitFor("stopped");
  const logs = stopped.logs as Record<string, number>;
  assert.deepEqual(
    [logs.received, logs.exported, logs.dropped],
    [records, records, 0],
    `log records received, exported, dropped: ${JSON.stringify(stopped)}`,
  );
  assert.equal(stopped.batchesLost, 0, JSON.stringify(stopped));
}

/**
 * A receiver on a free port that keeps every span and log record request it
 * gets, for a run of testing/slog.
 */
export class SlogSink {
  private constructor(
    /** The receiver itself (its address, URL and counters). */
    readonly receiver: Receiver,
    /** Every trace request, in arrival order. */
    readonly traces: TracesData[],
    /** Every log request, in arrival order. */
    readonly logs: LogsData[],
  ) {}

  /** Starts a sink on a free port. */
  static async start(): Promise<SlogSink> {
    const traces: TracesData[] = [];
    const logs: LogsData[] = [];
    const receiver = await startReceiver({
      port: 0,
      onTraces: (t) => traces.push(t),
      onLogs: (l) => logs.push(l),
    });
    return new SlogSink(receiver, traces, logs);
  }

  /**
   * Waits up to `timeoutMs` until `spans` spans and `records` log records
   * arrived (`through`: the way they came, for the error); the error gives
   * the counts and `dump()` (the processes' logs).
   */
  async waitForBoth(
    spans: number,
    records: number,
    timeoutMs: number,
    through: string,
    dump: () => string,
  ): Promise<void> {
    const counters = () => this.receiver.counters();
    await waitUntil(
      () => counters().spans >= spans && counters().logRecords >= records,
      timeoutMs,
      `${spans} spans and ${records} log records${through}`,
    ).catch((e) => {
      throw new Error(
        `${e.message}: have ${counters().spans} spans, ${counters().logRecords} log records\n${dump()}`,
      );
    });
  }

  /** All trace requests in one TracesData. */
  allTraces(): TracesData {
    return create(TracesDataSchema, {
      resourceSpans: this.traces.flatMap((t) => t.resourceSpans),
    });
  }

  /** The resource of the first spans that arrived. */
  spanResource(): Resource {
    return this.allTraces().resourceSpans[0].resource!;
  }

  /**
   * Reads testing/slog's -record file at `recordPath`, asserts it holds
   * `records` records and that the log records received are exactly those
   * (assertSlogRecords), each with the spans' resource; returns the record
   * and that resource.
   */
  async assertRecords(
    recordPath: string,
    records: number,
  ): Promise<{ recorded: SlogRecord[]; resource: Resource }> {
    const recorded = await readSlogRecord(recordPath);
    assert.equal(recorded.length, records, "records in the -record file");
    const resource = this.spanResource();
    assertSlogRecords(recorded, this.logs, { resource });
    return { recorded, resource };
  }

  /** Closes the receiver. */
  close(): Promise<void> {
    return this.receiver.close();
  }
}

function keyOf(r: Pick<SlogRecord, "traceId" | "spanId" | "body">): string {
  return `${r.traceId || "-"}/${r.spanId || "-"}/${r.body}`;
}

function anyText(v: AnyValue | undefined): string {
  assert.equal(v?.value.case, "stringValue", "a string body");
  return v!.value.value as string;
}

/** An attribute value in the shape the -record file gives it. */
function anyValue(v: AnyValue | undefined): string | number | boolean {
  switch (v?.value.case) {
    case "stringValue":
    case "boolValue":
    case "doubleValue":
      return v.value.value;
    case "intValue":
      return Number(v.value.value);
    default:
      throw new Error(`Unexpected attribute value kind ${v?.value.case}`);
  }
}

/**
 * `resource` with its attributes in key order: a Collector's processors
 * (k8sattributes) add theirs in no fixed order, request by request.
 */
function sortedAttributes(
  resource: Resource | undefined,
): Resource | undefined {
  return resource && {
    ...resource,
    attributes: [...resource.attributes].sort((a, b) =>
      a.key < b.key ? -1 : a.key > b.key ? 1 : 0
    ),
  };
}

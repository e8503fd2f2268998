/**
 * The outage soak of `deno task soak outage` (bench/soak.ts): the controller traces the hello example (`--rate` traces per
 * second, 3-4 spans each) and exports to a loopback port where nothing
 * listens; after `--seconds` a receiver starts on that port; hello goes on
 * for `--after` seconds more, then the controller is stopped. Checked:
 * the counters balance (received = exported + dropped, and received -
 * dropped = arrived), none arrives twice, every loss is counted (a hello
 * trace is missing or incomplete exactly when records were lost in the
 * kernel or spans dropped: with backpressure a long outage fills the ring,
 * and the kernel then counts what it cannot take), the controller's memory
 * stays bounded, recovery is noticed within the exporter's maximum backoff,
 * and nothing queued within OTEL_BSP_MAX_QUEUE_SIZE is dropped for the
 * outage (export_failed or shutdown). Needs what the eBPF tests need (root,
 * bpffs).
 *
 * @module
 */
import {
  ControllerProcess,
  copyProgram,
  delay,
  removePinRoot,
  rssBytes,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import {
  type CollectingReceiver,
  collectingReceiver,
  unusedPort,
} from "../testing/receiver.ts";
import { startHello, wholeHelloTraces } from "../testing/hello.ts";

/** Options of {@linkcode outage}. */
export interface OutageOptions {
  /** Seconds without a receiver. */
  seconds: number;
  /** Hello traces per second. */
  rate: number;
  /** Seconds of tracing after the receiver is back. */
  after: number;
  /** OTEL_BSP_MAX_QUEUE_SIZE for the controller (its default when unset). */
  queue?: number;
}

/** What {@linkcode outage} measured, and each check with whether it held. */
export interface OutageResult {
  /** The run's numbers, printed as one JSON line. */
  summary: Record<string, number | string>;
  /** Each check's description and whether it held. */
  checks: Record<string, boolean>;
}

/** The outage soak; resolves with its summary and the checks it passed or failed. */
export async function outage(o: OutageOptions): Promise<OutageResult> {
  const hello = await copyProgram("hello");
  const pinRoot = testPinRoot("soak");
  const port = unusedPort();
  const controller = new ControllerProcess(
    ["run", "--target", hello.exe, "--pin-root", pinRoot, "--no-status"],
    {
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}`,
      ...(o.queue ? { OTEL_BSP_MAX_QUEUE_SIZE: `${o.queue}` } : {}),
    },
  );
  let receiver: CollectingReceiver | undefined;
  try {
    await controller.waitFor("attached");
    const rssStart = rssBytes(controller.pid);
    let rssMax = rssStart;
    const sampler = setInterval(() => {
      rssMax = Math.max(rssMax, rssBytes(controller.pid));
    }, 1000);
    const started = Date.now();
    const run = startHello(hello.exe, {
      rate: o.rate,
      durationMs: (o.seconds + o.after) * 1000,
      env: { OTEL_BSP_SCHEDULE_DELAY: "100" },
    });
    await delay(o.seconds * 1000);
    const rssAtRecovery = rssBytes(controller.pid);
    receiver = await collectingReceiver({ port });
    const back = Date.now();
    const r = receiver;
    await waitUntil(() => r.requests.length > 0, 10_000, "a first export");
    const firstDeliveryMs = r.requests[0].at - back;
    const made = await run.done;
    clearInterval(sampler);
    const stopStatus = await controller.stop();
    const stopped = await controller.waitFor("stopped");
    const n = (k: string) => stopped[k] as number;
    const ids = new Set(r.spans.map((s) => s.span.spanId));
    const summary = {
      scenario: "outage",
      outageSeconds: o.seconds,
      afterSeconds: o.after,
      rate: o.rate,
      queue: o.queue ?? "default",
      helloTraces: made.requests,
      helloTracesWhole: wholeHelloTraces(r.spans),
      elapsedSeconds: Math.round((Date.now() - started) / 100) / 10,
      received: n("received"),
      exported: n("exported"),
      arrived: r.spans.length,
      dropped: n("dropped"),
      droppedQueueFull: n("droppedQueueFull"),
      droppedExportFailed: n("droppedExportFailed"),
      droppedShutdown: n("droppedShutdown"),
      droppedRejected: n("droppedRejected"),
      droppedInFlight: n("droppedInFlight"),
      recordsLost: n("recordsLost"),
      requestsAfterRecovery: r.requests.length,
      firstDeliveryMs,
      rssStartMiB: rssStart >> 20,
      rssAtRecoveryMiB: rssAtRecovery >> 20,
      rssMaxMiB: rssMax >> 20,
      exitCode: stopStatus.code,
    };
    const checks = {
      "controller exited 0, or 4 when it dropped spans":
        stopStatus.code === (summary.dropped > 0 ? 4 : 0),
      "received = exported + dropped": summary.received ===
        summary.exported + summary.dropped,
      "received - dropped = arrived": summary.received - summary.dropped ===
        summary.arrived,
      "no span arrived twice": ids.size === r.spans.length,
      "every loss counted (traces missing exactly when records were lost or spans dropped)":
        (summary.helloTracesWhole < summary.helloTraces) ===
          (summary.recordsLost + summary.dropped > 0),
      "memory bounded (max RSS < start + 256 MiB)": rssMax <
        rssStart + (256 << 20),
      "recovery noticed within the maximum backoff (5 s + 20%)":
        firstDeliveryMs < 6500,
      "nothing within the queue bound dropped (no export_failed, no shutdown)":
        summary.droppedExportFailed === 0 && summary.droppedShutdown === 0,
    };
    return { summary, checks };
  } finally {
    await stopIfRunning(controller);
    await receiver?.close();
    await hello.remove();
    await removePinRoot(pinRoot);
  }
}

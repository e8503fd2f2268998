/**
 * The whole pipeline through a real third-party receiver: the showcase
 * example runs under `spanbridge run`, which exports to an OpenTelemetry
 * Collector (built from the official Go modules by tests/collector: the
 * otlpreceiver on loopback, no processor, the otlphttpexporter), which
 * forwards to our collecting receiver. Every span the Go program recorded
 * must come out of the Collector exactly as it went in: the same span-by-span
 * comparison as tests/showcase_test.ts (tests/assert_spans.ts), for
 * http/protobuf and http/json into the Collector (the Collector forwards in
 * the same encoding it got).
 *
 * Nothing is exempted from the comparison. What the Collector may change and
 * the comparison tolerates by construction: it regroups spans into requests of
 * its own (its exporter's sending queue batches them) and may reorder them, so
 * spans are matched by span id, never by position or request; resource and
 * scope are compared per span, whichever request carried it. Every span field
 * the comparison checks (ids, parents, trace state, flags, kind, nanosecond
 * timestamps, typed attributes, events, links, status, dropped counts, scope,
 * resource) passes the Collector's pdata model unchanged.
 *
 * The Collector is built with `go build` into build/bin/otelcol-spanbridge
 * (up to date in well under a second once Go's build cache holds it; the
 * first build compiles the Collector, a minute or more on two cores, and
 * needs its modules from the module cache or the Go module proxy).
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  root,
  runProgram,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "./harness.ts";
import { TextLineStream } from "./lines.ts";
import { collectingReceiver, unusedPort } from "./otlp.ts";
import {
  assertSpans,
  type ShowcaseRecord,
  stopAndAssertNothingLost,
} from "./assert_spans.ts";

/** Where the test Collector is built. */
const collectorExe = `${root}build/bin/otelcol-spanbridge`;

let built: Promise<void> | undefined;

/** Builds tests/collector once per test run (go build skips an up-to-date binary). */
function buildCollector(): Promise<void> {
  built ??= (async () => {
    const { code, stdout, stderr } = await new Deno.Command("go", {
      args: ["build", "-o", collectorExe, "."],
      cwd: `${root}tests/collector`,
      stdin: "null",
    }).output();
    if (code !== 0) {
      const dec = new TextDecoder();
      throw new Error(
        `go build of the test Collector (tests/collector) failed:\n${
          dec.decode(stdout)
        }${dec.decode(stderr)}`,
      );
    }
  })();
  return built;
}

/** The test Collector as a child process, its log kept for failure messages. */
class CollectorProcess {
  readonly child: Deno.ChildProcess;
  readonly log: string[] = [];
  readonly listen: string;
  #status?: Deno.CommandStatus;
  readonly #done: Promise<unknown>;

  /** Starts the Collector: OTLP/HTTP on 127.0.0.1:`port`, forwarding to `forward` in `encoding`. */
  constructor(port: number, forward: string, encoding: "proto" | "json") {
    this.listen = `127.0.0.1:${port}`;
    this.child = new Deno.Command(collectorExe, {
      env: {
        SPANBRIDGE_OTELCOL_LISTEN: this.listen,
        SPANBRIDGE_OTELCOL_FORWARD: forward,
        SPANBRIDGE_OTELCOL_ENCODING: encoding,
      },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.child.status.then((s) => this.#status = s);
    this.#done = Promise.all(
      [this.child.stdout, this.child.stderr].map(async (stream) => {
        const lines = stream.pipeThrough(new TextDecoderStream())
          .pipeThrough(new TextLineStream());
        for await (const line of lines) this.log.push(line);
      }),
    );
  }

  /**
   * Resolves once the Collector logged that its pipelines run and its
   * OTLP/HTTP receiver accepts connections; throws if it exits first.
   */
  async ready(timeoutMs: number): Promise<void> {
    const [hostname, port] = this.listen.split(":");
    const ready = async () => {
      if (this.#status) {
        throw new Error(
          `the Collector exited (${this.#status.code}) before it was ready:\n${this.dump()}`,
        );
      }
      if (!this.log.some((l) => l.includes("Everything is ready"))) {
        return false;
      }
      try {
        (await Deno.connect({ hostname, port: Number(port) })).close();
        return true;
      } catch {
        return false;
      }
    };
    await waitUntil(ready, timeoutMs, `the Collector on ${this.listen}`);
  }

  /** SIGTERM (the Collector drains its exporter queue first); resolves with its exit status. */
  async stop(): Promise<Deno.CommandStatus> {
    if (!this.#status) {
      try {
        this.child.kill("SIGTERM");
      } catch {
        // Already exited.
      }
    }
    const status = await this.child.status;
    await this.#done;
    return status;
  }

  dump(): string {
    return this.log.join("\n");
  }
}

for (
  const [protocol, encoding] of [
    ["http/protobuf", "proto"],
    ["http/json", "json"],
  ] as const
) {
  Deno.test({
    name:
      `showcase spans pass the OpenTelemetry Collector intact over ${protocol}`,
    ignore: !ebpfAvailable(`collector e2e (${protocol})`),
    async fn() {
      await buildCollector();
      const showcase = await copyProgram("showcase");
      const recordFile = await Deno.makeTempFile({ suffix: ".json" });
      const pinRoot = testPinRoot(`collector-${protocol.slice(5)}`);
      const receiver = await collectingReceiver();
      let collector: CollectorProcess | undefined;
      let controller: ControllerProcess | undefined;
      try {
        collector = new CollectorProcess(
          unusedPort(),
          receiver.endpoint,
          encoding,
        );
        await collector.ready(30_000);
        controller = new ControllerProcess(
          [
            "run",
            "--target",
            showcase.exe,
            "--pin-root",
            pinRoot,
            "--no-status",
          ],
          {
            OTEL_EXPORTER_OTLP_ENDPOINT: `http://${collector.listen}`,
            OTEL_EXPORTER_OTLP_PROTOCOL: protocol,
          },
        );
        await controller.waitFor("attached");
        await runProgram(showcase.exe, [
          "-record",
          recordFile,
          "-wait-attach",
          "10s",
        ], { OTEL_SERVICE_NAME: "showcase-e2e" });
        const record: ShowcaseRecord = JSON.parse(
          await Deno.readTextFile(recordFile),
        );
        await waitUntil(
          () => receiver.spans.length >= record.spans.length,
          20_000,
          `${record.spans.length} spans through the Collector`,
        ).catch((err) => {
          throw new Error(
            `${err.message} (got ${receiver.spans.length}); controller:\n${
              controller!.dump()
            }\nCollector:\n${collector!.dump()}`,
          );
        });

        await stopAndAssertNothingLost(controller, record.spans.length);

        // Whatever the Collector still had queued is out once it stopped, so
        // a late duplicate could not slip past the comparison.
        const collectorStatus = await collector.stop();
        assert.equal(collectorStatus.code, 0, collector.dump());
        assert.ok(
          !collector.log.some((l) => /\t(warn|error)\t/.test(l)),
          `the Collector logged a warning or error:\n${collector.dump()}`,
        );

        assertSpans(
          record,
          receiver.spans,
          encoding === "json" ? "json" : "protobuf",
        );
      } finally {
        if (controller) await stopIfRunning(controller);
        await collector?.stop();
        await receiver.close();
        await removePinRoot(pinRoot);
        await showcase.remove();
        await Deno.remove(recordFile);
      }
    },
  });
}

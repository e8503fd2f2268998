/**
 * `deno task demo`: starts the example Go program, traces it with the
 * controller for a few seconds and prints its traces as trees, then a summary.
 *
 * Spans go to an embedded `spanbridge receive` unless
 * OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) points
 * at a real collector.
 *
 * @module
 */
import { run } from "../src/cli/run.ts";
import { recordsLost } from "../src/controller/controller.ts";
import { createLogger } from "../src/log.ts";
import { startReceiver } from "../src/receive/mod.ts";

const root = new URL("..", import.meta.url).pathname;
const seconds = Number(Deno.env.get("SPANBRIDGE_DEMO_SECONDS") ?? "6");

async function demo(): Promise<number> {
  const external = Deno.env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") ??
    Deno.env.get("OTEL_EXPORTER_OTLP_ENDPOINT");
  const receiver = external
    ? undefined
    : await startReceiver({ hostname: "127.0.0.1", port: 0, print: true });
  if (receiver) {
    Deno.env.set(
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      `http://127.0.0.1:${receiver.port}`,
    );
    Deno.env.set("OTEL_TRACES_EXPORTER", "otlp");
    console.log(
      `demo: spans go to the embedded receiver on 127.0.0.1:${receiver.port}`,
    );
  } else {
    console.log(`demo: spans go to ${external}`);
  }

  const exe = `${root}build/bin/hello`;
  const app = new Deno.Command(exe, {
    args: ["-duration", `${seconds + 5}s`],
    // Hand batches off twice a second rather than the OpenTelemetry default of 5 s.
    env: { OTEL_SERVICE_NAME: "hello-demo", OTEL_BSP_SCHEDULE_DELAY: "500" },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  console.log(
    `demo: started ${exe} (pid ${app.pid}); tracing it for ${seconds} s`,
  );

  try {
    const stats = await run({
      exes: [exe],
      pids: [],
      ringBytes: 8 << 20,
      durationMs: seconds * 1000,
      logLevel: "info",
      status: false,
    }, createLogger({ format: "text" }));
    // Give the receiver a moment to print the last export.
    await new Promise((r) => setTimeout(r, 300));
    const got = receiver?.counters();
    console.log(
      [
        "",
        "demo summary:",
        `  spans received by the controller  ${stats.decode.spans}`,
        `  spans exported                    ${stats.export.exported}`,
        `  spans dropped                     ${stats.export.dropped}`,
        `  records lost in the kernel        ${recordsLost(stats)}`,
        ...(got ? [`  spans printed by the receiver     ${got.spans}`] : []),
      ].join("\n"),
    );
    if (stats.decode.spans === 0) {
      console.error(
        "demo: no spans arrived: see the log lines above for what went wrong",
      );
      return 1;
    }
    return 0;
  } finally {
    try {
      app.kill("SIGTERM");
    } catch {
      // Already exited.
    }
    await app.status;
    await receiver?.close();
  }
}

if (import.meta.main) {
  try {
    Deno.exit(await demo());
  } catch (err) {
    console.error(`demo: ${(err as Error).message}`);
    Deno.exit(1);
  }
}

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
import { run } from "../src/cli/mod.ts";
import { recordsLost } from "../src/controller/mod.ts";
import { readExportConfig } from "../src/export/mod.ts";
import { createLogger } from "../src/log.ts";
import { startReceiver } from "../src/receive/mod.ts";

const root = new URL("..", import.meta.url).pathname;
const env = Deno.env.toObject();
const seconds = Number(env.SPANBRIDGE_DEMO_SECONDS ?? "6");

/**
 * The demo's own instance name: it never adopts or removes the pins of a
 * controller someone else runs (or ran) as "default".
 */
const instance = "demo";

/**
 * Prints a line on stdout (or stderr); a closed output (`./task demo | head`)
 * must not stop the cleanup.
 */
function say(line: string, to: "stdout" | "stderr" = "stdout"): void {
  try {
    if (to === "stdout") console.log(line);
    else console.error(line);
  } catch {
    // Nobody reads any more.
  }
}

async function demo(): Promise<number> {
  const external = env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    env.OTEL_EXPORTER_OTLP_ENDPOINT;
  const receiver = external
    ? undefined
    : await startReceiver({ hostname: "127.0.0.1", port: 0, print: true });
  const exportConfig = readExportConfig(
    receiver
      ? {
        ...env,
        OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${receiver.port}`,
        OTEL_TRACES_EXPORTER: "otlp",
      }
      : env,
  );
  say(
    receiver
      ? `demo: spans go to the embedded receiver on 127.0.0.1:${receiver.port}`
      : `demo: spans go to ${external}`,
  );

  const exe = `${root}build/bin/hello`;
  const app = new Deno.Command(exe, {
    args: ["-duration", `${seconds + 5}s`],
    // Hand batches off twice a second rather than the OpenTelemetry
    // defaults (5 s for spans, 1 s for log records).
    env: {
      OTEL_SERVICE_NAME: "hello-demo",
      OTEL_BSP_SCHEDULE_DELAY: "500",
      OTEL_BLRP_SCHEDULE_DELAY: "500",
    },
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  say(`demo: started ${exe} (pid ${app.pid}); tracing it for ${seconds} s`);

  try {
    const stats = await run({
      controller: {
        targets: { exes: [exe], pids: [] },
        probe: { name: instance },
      },
      export: exportConfig,
      log: { level: "info", format: "text" },
      status: false,
      durationMs: seconds * 1000,
    }, createLogger({ format: "text" }));
    // Give the receiver a moment to take the last export, then print what
    // it holds (it waits a second to print log records under their spans).
    await new Promise((r) => setTimeout(r, 300));
    receiver?.flush();
    const got = receiver?.counters();
    say(
      [
        "",
        "demo summary:",
        `  spans received by the controller  ${stats.decode.spans}`,
        `  spans exported                    ${stats.export.exported}`,
        `  spans dropped                     ${stats.export.dropped}`,
        `  records lost in the kernel        ${recordsLost(stats)}`,
        ...(got ? [`  spans printed by the receiver     ${got.spans}`] : []),
        `  log records received              ${stats.decode.logRecords}`,
        `  log records exported              ${stats.logExport.exported}`,
        ...(got
          ? [`  log records printed               ${got.logRecords}`]
          : []),
      ].join("\n"),
    );
    if (stats.decode.spans === 0) {
      say(
        "demo: no spans arrived: see the log lines above for what went wrong",
        "stderr",
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
    say(`demo: ${(err as Error).message}`, "stderr");
    Deno.exit(1);
  }
}

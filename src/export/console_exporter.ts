/**
 * OTEL_TRACES_EXPORTER=console: one JSON line per span on standard output,
 * `{"resource":…,"scope":…,"span":…}` in OTLP/JSON (hex ids, exact 64-bit
 * timestamps as strings), for piping into jq or a file; OTEL_LOGS_EXPORTER=
 * console: one line per log record, `{"resource":…,"scope":…,"logRecord":…}`.
 *
 * @module
 */

import type { JsonValue } from "@bufbuild/protobuf";
import type { Exporter } from "./exporter.ts";
import { toOtlpJson } from "../otlp/mod.ts";

type Json = Record<string, JsonValue>;

/** Creates the console exporter; `write` receives each line without its newline (default: stdout). */
export function createConsoleExporter(
  write?: (line: string) => void,
): Exporter {
  const encoder = new TextEncoder();
  const out = write ?? ((line: string) => {
    const bytes = encoder.encode(line + "\n");
    let done = 0;
    while (done < bytes.length) {
      done += Deno.stdout.writeSync(bytes.subarray(done));
    }
  });
  return {
    export(batch) {
      try {
        // Decodes every span: slow, and fine for a human-facing exporter.
        const json = toOtlpJson(batch);
        const logs = batch.signal === "logs";
        const groups = logs ? json.resourceLogs : json.resourceSpans;
        for (const rs of (groups ?? []) as Json[]) {
          const scopes = logs ? rs.scopeLogs : rs.scopeSpans;
          for (const ss of (scopes ?? []) as Json[]) {
            const items = logs ? ss.logRecords : ss.spans;
            for (const item of (items ?? []) as Json[]) {
              out(
                JSON.stringify({
                  resource: rs.resource ?? {},
                  scope: ss.scope ?? {},
                  [logs ? "logRecord" : "span"]: item,
                }),
              );
            }
          }
        }
        return Promise.resolve({ ok: true, rejected: 0 });
      } catch (e) {
        return Promise.resolve({
          ok: false,
          error: new Error(
            `Cannot print ${
              batch.signal === "logs" ? "log records" : "spans"
            }: ${(e as Error).message}`,
          ),
          retryable: false,
        });
      }
    },
    shutdown: () => Promise.resolve(),
  };
}

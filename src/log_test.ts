import assert from "node:assert/strict";
import process from "node:process";
import { createLogger, isLogLevel, routeProcessWarnings } from "./log.ts";

Deno.test("isLogLevel takes the four levels and no inherited property name", () => {
  for (const level of ["debug", "info", "warn", "error"]) {
    assert.ok(isLogLevel(level), level);
  }
  for (const name of ["__proto__", "toString", "constructor", "valueOf", ""]) {
    assert.ok(!isLogLevel(name), name);
  }
});

Deno.test("createLogger passes every line through redact", () => {
  const lines: string[] = [];
  const log = createLogger({
    format: "json",
    write: (l) => lines.push(l),
    redact: (l) => l.replaceAll("s3cr3t", "REDACTED"),
  });
  log.warn("export to http://alice:s3cr3t@x failed", { detail: "s3cr3t" });
  assert.equal(lines.length, 1);
  assert.ok(!lines[0].includes("s3cr3t"), lines[0]);
});

Deno.test("routeProcessWarnings turns a library's process warning into a JSON log line", () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const unroute = routeProcessWarnings(log);
  try {
    // What Node's timers emit for a delay past 2^31-1 ms.
    process.emitWarning(
      "3000000000 does not fit into a 32-bit signed integer.\nTimeout duration was set to 1.",
      "TimeoutOverflowWarning",
    );
    process.emitWarning(new Error("old API"), { type: "DeprecationWarning" });
  } finally {
    unroute();
  }
  assert.deepEqual(
    lines.map((l) => {
      const { level, msg, warning } = JSON.parse(l);
      return { level, msg, warning };
    }),
    [
      {
        level: "warn",
        msg:
          "3000000000 does not fit into a 32-bit signed integer. Timeout duration was set to 1.",
        warning: "TimeoutOverflowWarning",
      },
      { level: "warn", msg: "old API", warning: "DeprecationWarning" },
    ],
  );
});

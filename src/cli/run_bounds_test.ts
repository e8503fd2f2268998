// Every value with no sane meaning is refused as bad usage (exit 2) before
// anything starts; tests/cli_test.ts checks the exit codes end to end.
import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseRunArgs } from "./run.ts";

const target = ["--target", "/bin/true"];

Deno.test("run refuses out-of-range and inherited-name values as bad usage", () => {
  const cases: [string[], Record<string, string>, RegExp][] = [
    [["--pid", "4194305"], {}, /Invalid pid "4194305": .*1 to 4194304/],
    [["--pid", "99999999999999999999"], {}, /Invalid pid/],
    [target, { SPANBRIDGE_LOG_LEVEL: "__proto__" }, /Invalid log level/],
    [target, { SPANBRIDGE_LOG_LEVEL: "toString" }, /Invalid log level/],
    [["--log-level", "constructor", ...target], {}, /Invalid log level/],
    [target, { OTEL_LOG_LEVEL: "__proto__" }, /Invalid OTEL_LOG_LEVEL/],
    [target, { OTEL_LOG_LEVEL: "hasOwnProperty" }, /Invalid OTEL_LOG_LEVEL/],
    [target, { OTEL_SDK_DISABLED: "yes" }, /Invalid OTEL_SDK_DISABLED/],
    [
      [...target, "--telemetry", "0"],
      { OTEL_METRIC_EXPORT_INTERVAL: "3000000000" },
      /Invalid OTEL_METRIC_EXPORT_INTERVAL/,
    ],
    [
      target,
      { OTEL_BSP_MAX_QUEUE_SIZE: "99999999999999" },
      /Invalid OTEL_BSP_MAX_QUEUE_SIZE/,
    ],
    [
      target,
      { SPANBRIDGE_MAX_QUEUE_BYTES: "8000000G" },
      /Invalid SPANBRIDGE_MAX_QUEUE_BYTES/,
    ],
    [[...target, "--ring-size", "96K"], {}, /Invalid ring size 98304/],
    [target, { SPANBRIDGE_RING_SIZE: "2G" }, /Invalid ring size/],
    [
      target,
      { SPANBRIDGE_EXEC_RING_SIZE: "3K" },
      /Invalid SPANBRIDGE_EXEC_RING_SIZE 3072: .*from 4K to 64M/,
    ],
    [target, { SPANBRIDGE_EXEC_RING_SIZE: "128M" }, /EXEC_RING_SIZE/],
  ];
  for (const [args, env, message] of cases) {
    assert.throws(
      () => parseRunArgs(args, env),
      (err) =>
        err instanceof UsageError && message.test(err.message) &&
        !err.message.includes("\n"),
      `${args.join(" ")} ${JSON.stringify(env)}`,
    );
  }
  assert.deepEqual(
    parseRunArgs(["--pid", "4194304"], {}).controller.targets.pids,
    [4194304],
  );
});

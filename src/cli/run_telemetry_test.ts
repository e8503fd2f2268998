import assert from "node:assert/strict";
import { UsageError } from "../errors.ts";
import { parseRunArgs } from "./run.ts";

const target = ["--target", "/bin/true"];

Deno.test("run --telemetry turns the listener on, the flag over SPANBRIDGE_TELEMETRY", () => {
  assert.equal(parseRunArgs(target, {}).telemetry, undefined);
  assert.deepEqual(
    parseRunArgs([...target, "--telemetry", "9464"], {}).telemetry?.listen,
    { hostname: "127.0.0.1", port: 9464 },
  );
  assert.deepEqual(
    parseRunArgs([...target, "--telemetry", "0.0.0.0:1"], {
      SPANBRIDGE_TELEMETRY: "2",
    }).telemetry?.listen,
    { hostname: "0.0.0.0", port: 1 },
  );
  assert.equal(
    parseRunArgs(target, { SPANBRIDGE_TELEMETRY: "2" }).telemetry?.listen.port,
    2,
  );
});

Deno.test("run refuses a bad telemetry setting as bad usage", () => {
  for (
    const [args, env] of [
      [["--telemetry", "nope"], {}],
      [["--telemetry", "1"], { SPANBRIDGE_TELEMETRY_EXPORT_FAILING: "0" }],
    ] as const
  ) {
    assert.throws(
      () => parseRunArgs([...target, ...args], env),
      (err) => err instanceof UsageError,
    );
  }
});

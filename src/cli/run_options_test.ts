import assert from "node:assert/strict";
import { parseRunArgs } from "./run.ts";

Deno.test("run builds one options object per component, holding only what was given", () => {
  const options = parseRunArgs([
    "--target",
    "/bin/true",
    "--instance",
    "options-test",
    "--ring-size",
    "1M",
    "--pin-root",
    "/sys/fs/bpf/options-test",
    "--log-level",
    "debug",
  ], { SPANBRIDGE_EXEC_RING_SIZE: "8K", INIT_CWD: "/home/me" });
  assert.deepEqual(options.controller, {
    targets: {
      exes: ["/bin/true"],
      cwd: "/home/me",
      pids: [],
      all: false,
      filter: {
        includeExe: [],
        excludeExe: [],
        includeContainer: [],
        excludeContainer: [],
      },
    },
    // The probe's own field names; its defaults stay the probe's.
    probe: {
      pinRoot: "/sys/fs/bpf/options-test",
      name: "options-test",
      ringBytes: 1 << 20,
    },
    execEvents: { ringBytes: 8 << 10 },
  });
  assert.deepEqual(options.log, { level: "debug", format: undefined });

  const defaults = parseRunArgs(["--target", "/bin/true"], {});
  assert.deepEqual(defaults.controller.probe, {});
  assert.deepEqual(defaults.controller.execEvents, {});
});

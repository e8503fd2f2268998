import assert from "node:assert/strict";
import { parseRunArgs } from "./run.ts";

Deno.test("run --all takes include/exclude filters from flags, or else from SPANBRIDGE_* variables", () => {
  const byFlags = parseRunArgs([
    "--all",
    "--include-exe",
    "/app/**",
    "--include-exe",
    "/srv/*",
    "--exclude-exe",
    "**/*-debug",
    "--include-container",
    "3f4a9b1c2d3e",
    "--exclude-container",
    "ab*",
  ], { SPANBRIDGE_INCLUDE_EXE: "/ignored" });
  assert.equal(byFlags.controller.targets.all, true);
  assert.deepEqual(byFlags.controller.targets.filter, {
    includeExe: ["/app/**", "/srv/*"],
    excludeExe: ["**/*-debug"],
    includeContainer: ["3f4a9b1c2d3e"],
    excludeContainer: ["ab*"],
  });
  const byEnv = parseRunArgs([], {
    SPANBRIDGE_ALL: "true",
    SPANBRIDGE_INCLUDE_EXE: "/app/**, /srv/*",
    SPANBRIDGE_EXCLUDE_CONTAINER: "*",
  });
  assert.equal(byEnv.controller.targets.all, true);
  assert.deepEqual(byEnv.controller.targets.filter?.includeExe, [
    "/app/**",
    "/srv/*",
  ]);
  assert.deepEqual(byEnv.controller.targets.filter?.excludeContainer, ["*"]);
  assert.deepEqual(byEnv.controller.targets.filter?.includeContainer, []);
});

Deno.test("run without a target or --all, or with a bad SPANBRIDGE_ALL, is a usage error", () => {
  assert.throws(() => parseRunArgs([], {}), /No target: .*--all/);
  assert.throws(
    () => parseRunArgs([], { SPANBRIDGE_ALL: "yes please" }),
    /Invalid SPANBRIDGE_ALL "yes please": expected true or false/,
  );
  assert.equal(
    parseRunArgs(["-t", "x"], { SPANBRIDGE_ALL: "0" }).controller
      .targets.all,
    false,
  );
});

Deno.test("run resolves relative targets against INIT_CWD, where deno task was started", () => {
  assert.equal(
    parseRunArgs(["-t", "./x"], { INIT_CWD: "/home/me" }).controller.targets
      .cwd,
    "/home/me",
  );
  assert.equal(
    parseRunArgs(["-t", "./x"], {}).controller.targets.cwd,
    Deno.cwd(),
  );
});

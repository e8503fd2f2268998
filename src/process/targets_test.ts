import assert from "node:assert/strict";
import { binary, testDir } from "../../testing/go_binaries.ts";
import { assertTargetError } from "../../testing/target_error.ts";
import { noFilter } from "./filter.ts";
import { resolveTargets } from "./targets.ts";

Deno.test("resolveTargets resolves a relative path against cwd and keeps the defaults", async () => {
  const path = await binary("sdk");
  const dir = path.slice(0, path.lastIndexOf("/"));
  const name = path.slice(dir.length + 1);
  const t = await resolveTargets({ exes: [name], cwd: dir, pids: [] });
  assert.equal(t.exes.length, 1);
  assert.equal(t.exes[0].path, path);
  assert.equal(t.exes[0].binary.realPath, await Deno.realPath(path));
  assert.deepEqual(t.pids, []);
  assert.equal(t.all, false);
  assert.equal(t.filter, noFilter);
});

Deno.test("resolveTargets names the path it tried and the --all way for a missing target", async () => {
  const dir = await testDir();
  await assertTargetError(
    resolveTargets({ exes: ["no-such-program"], cwd: dir, pids: [] }),
    "not-found",
    new RegExp(`${dir}/no-such-program`),
    /pass --all --include-exe .*no-such-program/,
  );
});

Deno.test("resolveTargets refuses a pid that does not exist", async () => {
  // Above the kernel's pid_max (4194304 at most): never a process.
  await assertTargetError(
    resolveTargets({ exes: [], pids: [99_999_999] }),
    "not-found",
  );
});

Deno.test("resolveTargets refuses a live process that is not a Go program", async () => {
  // This test runs in Deno, which is no Go program.
  await assertTargetError(
    resolveTargets({ exes: [], pids: [Deno.pid] }),
    "not-go",
    new RegExp(`/proc/${Deno.pid}/exe`),
  );
});

Deno.test("resolveTargets passes --all and the filter on", async () => {
  const filter = { ...noFilter, includeExe: ["/app/*"] };
  const t = await resolveTargets({
    exes: [],
    pids: [],
    all: true,
    filter,
  });
  assert.deepEqual(t, {
    exes: [],
    pids: [],
    all: true,
    filter,
  });
});

import assert from "node:assert/strict";
import { matchesFilter, needsContainerId, noFilter } from "./filter.ts";

const id = "3f4a9b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d1e2f3a4b5c6d7e8f90";

Deno.test("matchesFilter with no rule takes every process", () => {
  assert.ok(matchesFilter(noFilter, "/usr/bin/anything", undefined));
  assert.ok(matchesFilter(noFilter, "/app", id));
  assert.equal(needsContainerId(noFilter), false);
});

Deno.test("matchesFilter includes and excludes executables by glob", () => {
  const rules = {
    ...noFilter,
    includeExe: ["/app/**", "/usr/local/bin/*"],
    excludeExe: ["**/*-debug"],
  };
  assert.ok(matchesFilter(rules, "/app/bin/server", undefined));
  assert.ok(matchesFilter(rules, "/usr/local/bin/api", undefined));
  assert.equal(
    matchesFilter(rules, "/usr/local/bin/sub/api", undefined),
    false,
  );
  assert.equal(matchesFilter(rules, "/app/bin/server-debug", undefined), false);
  assert.equal(matchesFilter(rules, "/opt/server", undefined), false);
});

Deno.test("matchesFilter matches container ids by prefix or glob; host processes match no container rule", () => {
  const include = { ...noFilter, includeContainer: [id.slice(0, 12)] };
  assert.ok(needsContainerId(include));
  assert.ok(matchesFilter(include, "/hello", id));
  assert.equal(matchesFilter(include, "/hello", "ab".repeat(32)), false);
  assert.equal(matchesFilter(include, "/hello", undefined), false);
  const exclude = { ...noFilter, excludeContainer: ["3f4a*"] };
  assert.equal(matchesFilter(exclude, "/hello", id), false);
  assert.ok(matchesFilter(exclude, "/hello", undefined));
  const hostOnly = { ...noFilter, excludeContainer: ["*"] };
  assert.equal(matchesFilter(hostOnly, "/hello", id), false);
  assert.ok(matchesFilter(hostOnly, "/usr/bin/hello", undefined));
});

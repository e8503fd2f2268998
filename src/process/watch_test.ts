import assert from "node:assert/strict";
import { binary, testDir } from "../../testing/go_binaries.ts";
import { TargetError } from "./errors.ts";
import { resolveTarget, type TargetBinary } from "./resolve.ts";
import { watchBinary } from "./watch.ts";

/** Replaces `dst` the way `go build -o` does: a new file renamed over it. */
async function replace(src: string, dst: string): Promise<void> {
  await Deno.copyFile(src, `${dst}.tmp`);
  await Deno.rename(`${dst}.tmp`, dst);
}

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`${what} not seen in ${ms} ms`)),
      ms,
    );
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

Deno.test("watchBinary reports a rebuilt binary and explains an unusable one", async () => {
  const dir = `${await testDir()}/watch`;
  await Deno.mkdir(dir, { recursive: true });
  const app = `${dir}/app`;
  await Deno.copyFile(await binary("sdk"), app);
  const first = await resolveTarget(app);
  let replaced = Promise.withResolvers<TargetBinary>();
  let failed = Promise.withResolvers<unknown>();
  const calls: string[] = [];
  const watch = watchBinary(first, (t) => {
    calls.push("replaced");
    replaced.resolve(t);
  }, {
    debounceMs: 50,
    onError: (err) => {
      calls.push("error");
      failed.resolve(err);
    },
  });
  try {
    // Other files in the directory are ignored.
    await Deno.writeTextFile(`${dir}/other`, "x");
    await new Promise((r) => setTimeout(r, 200));
    assert.deepEqual(calls, []);

    await replace(await binary("sdk-wrapper"), app);
    const next = await within(replaced.promise, 3000, "the replacement");
    assert.notEqual(next.ino, first.ino);
    assert.equal(next.ino, (await Deno.stat(app)).ino);
    assert.equal(
      next.endedOffset,
      (await resolveTarget(await binary("sdk-wrapper"))).endedOffset,
    );

    replaced = Promise.withResolvers();
    await replace(await binary("go-plain"), app);
    const err = await within(failed.promise, 3000, "the error");
    assert.ok(err instanceof TargetError && err.kind === "no-probe-point");

    failed = Promise.withResolvers();
    await replace(await binary("sdk"), app);
    assert.equal(
      (await within(replaced.promise, 3000, "the second replacement"))
        .endedOffset,
      first.endedOffset,
    );
    assert.deepEqual(calls, ["replaced", "error", "replaced"]);
  } finally {
    watch.close();
  }
});

Deno.test("watchBinary reports a replacement made before the watch started", async () => {
  const dir = `${await testDir()}/watch-late`;
  await Deno.mkdir(dir, { recursive: true });
  const app = `${dir}/app`;
  await Deno.copyFile(await binary("sdk"), app);
  const first = await resolveTarget(app);
  await replace(await binary("sdk-wrapper"), app);
  const replaced = Promise.withResolvers<TargetBinary>();
  const watch = watchBinary(first, replaced.resolve, { debounceMs: 50 });
  try {
    const next = await within(replaced.promise, 3000, "the replacement");
    assert.equal(next.ino, (await Deno.stat(app)).ino);
  } finally {
    watch.close();
  }
});

Deno.test("watchBinary reports a rewrite in place at once, then the new content", async () => {
  const dir = `${await testDir()}/watch-in-place`;
  await Deno.mkdir(dir, { recursive: true });
  const app = `${dir}/app`;
  await Deno.copyFile(await binary("sdk"), app);
  const first = await resolveTarget(app);
  const events: string[] = [];
  const rewriting = Promise.withResolvers<TargetBinary>();
  const replaced = Promise.withResolvers<TargetBinary>();
  const watch = watchBinary(first, (t) => {
    events.push("replaced");
    replaced.resolve(t);
  }, {
    debounceMs: 300,
    onRewriting: (t) => {
      events.push("rewriting");
      rewriting.resolve(t);
    },
  });
  try {
    await new Promise((r) => setTimeout(r, 100)); // the initial check
    // `cp new old`: same inode, truncated and written.
    const wrapper = await Deno.readFile(await binary("sdk-wrapper"));
    await Deno.writeFile(app, wrapper);
    assert.equal((await Deno.stat(app)).ino, first.ino);
    assert.equal(
      (await within(rewriting.promise, 3000, "the rewrite")).ino,
      first.ino,
    );
    const next = await within(replaced.promise, 3000, "the new content");
    assert.equal(next.ino, first.ino);
    assert.notEqual(next.version, first.version);
    assert.equal(
      next.endedOffset,
      (await resolveTarget(await binary("sdk-wrapper"))).endedOffset,
    );
    assert.deepEqual(events, ["rewriting", "replaced"]);
  } finally {
    watch.close();
  }
});

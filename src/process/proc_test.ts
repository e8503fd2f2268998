import assert from "node:assert/strict";
import { binary, testDir } from "../../testing/go_binaries.ts";
import { assertTargetError } from "../../testing/target_error.ts";
import { maxCmdlineBytes, processInfo, startTicks } from "./proc.ts";

/** Starts `path` sleeping for 30 s; the caller kills it. */
function sleeper(path: string): Deno.ChildProcess {
  return new Deno.Command(path, {
    args: ["30s"],
    stdout: "null",
    stderr: "null",
  }).spawn();
}

async function stop(child: Deno.ChildProcess): Promise<void> {
  child.kill();
  await child.status;
}

Deno.test("processInfo describes this process", async () => {
  const p = await processInfo(Deno.pid);
  assert.equal(p.pid, Deno.pid);
  assert.equal(p.ppid, Deno.ppid);
  assert.equal(p.exePath, await Deno.realPath(Deno.execPath()));
  assert.equal(p.exeName, p.exePath.split("/").at(-1));
  assert.equal(p.exeDeleted, false);
  assert.equal(p.uid, Deno.uid());
  if (p.uid === 0) assert.equal(p.owner, "root");
  assert.ok(p.cmdline.includes("test"));
  const st = await Deno.stat(Deno.execPath());
  assert.equal(p.dev, st.dev);
  assert.equal(p.ino, st.ino);
  assert.equal(await startTicks(Deno.pid), p.startTicks);
});

Deno.test("processInfo describes a child running a Go binary", async () => {
  const path = await binary("sdk");
  const child = sleeper(path);
  try {
    const info = await processInfo(child.pid);
    assert.deepEqual(info.cmdline, [path, "30s"]);
    assert.equal(info.command, "sdk");
    assert.equal(info.ppid, Deno.pid);
  } finally {
    await stop(child);
  }
});

Deno.test("processInfo reads at most maxCmdlineBytes of a 1.4 MB command line", async () => {
  // Eleven arguments at Linux's limit for one (128 KiB with its NUL).
  const args = Array.from(
    { length: 11 },
    (_, i) => String.fromCharCode(97 + i).repeat((128 << 10) - 1),
  );
  const child = new Deno.Command(await binary("sdk"), {
    args: ["30s", ...args],
    stdout: "null",
    stderr: "null",
  }).spawn();
  try {
    const { cmdline } = await processInfo(child.pid);
    assert.equal(cmdline[1], "30s");
    // argv[0], "30s" and the first argument, cut where the bound falls.
    assert.equal(cmdline.length, 3);
    assert.equal(cmdline.join("\0").length, maxCmdlineBytes);
    assert.ok(/^a+$/.test(cmdline[2]));
  } finally {
    await stop(child);
  }
});

Deno.test("processInfo reports a deleted executable by its old path", async () => {
  const path = `${await testDir()}/deleted-sleeper`;
  await Deno.copyFile(await binary("sdk"), path);
  const child = sleeper(path);
  try {
    await Deno.remove(path);
    const p = await processInfo(child.pid);
    assert.equal(p.exeDeleted, true);
    assert.equal(p.exePath, path);
    assert.equal(p.exeName, "deleted-sleeper");
  } finally {
    await stop(child);
  }
});

Deno.test("processInfo explains a bad or missing pid", async () => {
  for (const pid of [0, -1, 1.5, NaN]) {
    await assertTargetError(processInfo(pid), "not-found", /positive integer/);
  }
  const child = sleeper(await binary("sdk"));
  await stop(child);
  await assertTargetError(
    processInfo(child.pid),
    "not-found",
    /no such process/,
    /ps -p/,
  );
  assert.equal(await startTicks(child.pid), undefined);
});

Deno.test({
  name:
    "processInfo names the owner from the /etc/passwd of the process's own mount namespace",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-passwd-" });
    await Deno.writeTextFile(
      `${dir}/passwd`,
      "root:x:0:0::/root:/bin/sh\nsvc-in-ns:x:4242:4242::/:/bin/false\n",
    );
    // A private mount namespace whose /etc/passwd names uid 4242, which the
    // host's does not (and a uid 4343 neither names).
    const child = (uid: number) =>
      new Deno.Command("unshare", {
        args: [
          "--mount",
          "sh",
          "-c",
          `mount --bind ${dir}/passwd /etc/passwd && exec setpriv --reuid ${uid} --regid ${uid} --clear-groups sleep 30`,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
    const named = child(4242);
    const unnamed = child(4343);
    try {
      const started = async (c: Deno.ChildProcess) => {
        for (let i = 0; i < 200; i++) {
          // Only once it runs sleep: a read before the bind mount would
          // remember the namespace's passwd as it was then.
          const exe = await Deno.readLink(`/proc/${c.pid}/exe`).catch(() => "");
          if (exe.endsWith("/sleep")) return await processInfo(c.pid);
          await new Promise((r) => setTimeout(r, 20));
        }
        throw new Error(`process ${c.pid} did not exec sleep`);
      };
      const [a, b] = await Promise.all([started(named), started(unnamed)]);
      assert.equal(a.uid, 4242);
      assert.equal(a.owner, "svc-in-ns");
      assert.equal(b.owner, "4343");
      // This process's own users still come from its own /etc/passwd.
      assert.equal((await processInfo(Deno.pid)).owner, "root");
    } finally {
      for (const c of [named, unnamed]) {
        c.kill("SIGKILL");
        await c.status;
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  name:
    "processInfo shows owners as uids, at once, when the namespace's /etc/passwd is a FIFO",
  ignore: Deno.uid() !== 0,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "spanbridge-passwd-fifo-" });
    const fifo = `${dir}/passwd`;
    const ok = (args: string[]) =>
      new Deno.Command(args[0], { args: args.slice(1) }).output().then((o) =>
        assert.ok(o.success, new TextDecoder().decode(o.stderr))
      );
    await ok(["mkfifo", fifo]);
    // A process of uid 4545 (named nowhere) in its own mount namespace,
    // whose /etc/passwd then becomes a FIFO nobody writes: reading it
    // would wait forever.
    const child = new Deno.Command("unshare", {
      args: [
        "--mount",
        "setpriv",
        "--reuid",
        "4545",
        "--regid",
        "4545",
        "--clear-groups",
        "sleep",
        "30",
      ],
      stdout: "null",
      stderr: "null",
    }).spawn();
    try {
      for (let i = 0; i < 200; i++) {
        const exe = await Deno.readLink(`/proc/${child.pid}/exe`).catch(() =>
          ""
        );
        if (exe.endsWith("/sleep")) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      await ok([
        "nsenter",
        `--target=${child.pid}`,
        "--mount",
        "mount",
        "--bind",
        fifo,
        "/etc/passwd",
      ]);
      assert.equal((await processInfo(child.pid)).owner, "4545");
    } finally {
      child.kill("SIGKILL");
      await child.status;
      await Deno.remove(dir, { recursive: true });
    }
  },
});

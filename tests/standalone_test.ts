/**
 * The standalone binary. What it needs is tested on every run: the same
 * entry point, with the same permissions (--allow-all), started from another
 * working directory, loads the probe from the objects beside its modules
 * through a private temporary copy that it removes. The compiled binary
 * itself is traced end to end when `deno compile` can get its base runtime
 * (DENORT_BIN, or Deno's download site); otherwise the test says why it did
 * not run.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  ebpfAvailable,
  program,
  root,
  runProgram,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";

const canTrace = ebpfAvailable("standalone binary tests");

/** Traces one showcase run with `options` and checks every span arrived. */
async function traceShowcase(
  name: string,
  options: { command?: string; cwd?: string },
) {
  const receiver = await collectingReceiver();
  const pinRoot = `/sys/fs/bpf/spanbridge-test-${name}-${Deno.pid}`;
  // The controller's own temporary directory: what other controllers on the
  // machine put in /tmp meanwhile is none of this test's business.
  const tmp = await Deno.makeTempDir({ prefix: "spanbridge-standalone-tmp-" });
  const watcher = Deno.watchFs(tmp, { recursive: false });
  const made: string[] = [];
  const watching = (async () => {
    for await (const e of watcher) {
      if (e.kind === "create") made.push(...e.paths);
    }
  })();
  const controller = new ControllerProcess(
    [
      "run",
      "--target",
      program("showcase"),
      "--pin-root",
      pinRoot,
      "--no-status",
    ],
    { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint, TMPDIR: tmp },
    options,
  );
  const recordFile = await Deno.makeTempFile({ suffix: ".json" });
  try {
    await controller.waitFor("attached");
    // The copy was made in the controller's TMPDIR (so the check below is
    // not vacuous) and is gone once the probe is attached.
    const seen = Date.now() + 5_000;
    while (!made.some((p) => p.includes("/spanbridge-bpf-"))) {
      assert.ok(Date.now() < seen, `no probe copy made in ${tmp}: ${made}`);
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.deepEqual(
      [...Deno.readDirSync(tmp)].map((e) => e.name),
      [],
      `the private copy of the probe object was left in ${tmp}`,
    );
    await runProgram(program("showcase"), ["-record", recordFile]);
    const record = JSON.parse(await Deno.readTextFile(recordFile));
    const deadline = Date.now() + 10_000;
    while (
      receiver.spans.length < record.spans.length && Date.now() < deadline
    ) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.equal((await controller.stop()).code, 0, controller.dump());
    assert.deepEqual(
      new Set(receiver.spans.map((s) => s.span.spanId)),
      new Set(record.spans.map((s: { spanId: string }) => s.spanId)),
    );
  } finally {
    if (!controller.logs.some((l) => l.msg === "stopped")) {
      await controller.stop();
    }
    await receiver.close();
    watcher.close();
    await watching;
    await Deno.remove(tmp, { recursive: true });
    await Deno.remove(recordFile);
    await Deno.remove(pinRoot, { recursive: true }).catch(() => {});
  }
}

Deno.test({
  name:
    "the entry point with the standalone binary's permissions traces from any working directory",
  ignore: !canTrace,
  fn: () => traceShowcase("entry", { cwd: "/" }),
});

/** Compiles the standalone binary; returns its path, or why it could not be built. */
async function compileStandalone(): Promise<{ path?: string; why?: string }> {
  const out = await Deno.makeTempDir({ prefix: "spanbridge-compile-" });
  const path = `${out}/spanbridge`;
  const { code, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", `${root}tools/compile.ts`, path],
  }).output();
  if (code === 0) return { path };
  await Deno.remove(out, { recursive: true });
  const lines = new TextDecoder().decode(stderr).trim().split("\n");
  return {
    why: lines.filter((l) => /error|compile:/.test(l)).join(" / ") ||
      lines.at(-1),
  };
}

const standalone = canTrace ? await compileStandalone() : {};
if (canTrace && !standalone.path) {
  console.warn(
    `NOT RUN: the compiled-binary e2e test: deno compile failed: ${standalone.why}`,
  );
}

Deno.test({
  name: "the compiled standalone binary traces the showcase end to end",
  ignore: !standalone.path,
  async fn() {
    try {
      await traceShowcase("compiled", { command: standalone.path, cwd: "/" });
    } finally {
      await Deno.remove(standalone.path!.replace(/\/[^/]+$/, ""), {
        recursive: true,
      });
    }
  },
});

/**
 * Inputs a hostile local user hands the agent: a SDK-linked executable whose
 * section-name table claims 1 GiB (a sparse file the kernel runs as usual)
 * must cost the agent no memory, as `--target` or exec'd by `nobody` under
 * `run --all`; a FIFO given as `--target` must not hang the controller.
 */
import assert from "node:assert/strict";
import {
  ControllerProcess,
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  runCli,
  stopIfRunning,
  testPinRoot,
  waitUntil,
} from "../testing/harness.ts";
import { collectingReceiver } from "../testing/receiver.ts";
import {
  assertHelloRunsArrived,
  helloRunsArrived,
  runHello,
} from "../testing/hello.ts";

/**
 * Writes `to`: a copy of `from` whose section-name table claims 1 GiB,
 * extended to 2 GiB with a hole so that the claim lies inside the file.
 */
async function craftNamesClaim(from: string, to: string): Promise<void> {
  const data = await Deno.readFile(from);
  const v = new DataView(data.buffer);
  const shoff = Number(v.getBigUint64(40, true)); // e_shoff
  const header = shoff + v.getUint16(62, true) * v.getUint16(58, true); // e_shstrndx * e_shentsize
  v.setBigUint64(header + 32, BigInt(2 ** 30), true); // sh_size
  await Deno.writeFile(to, data, { mode: 0o755 });
  await Deno.truncate(to, 2 ** 31);
}

/** The peak resident memory of process `pid` (VmHWM), in bytes. */
function peakBytes(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? NaN) * 1024;
}

const MiB = 2 ** 20;

Deno.test("run --target <FIFO> exits at once with code 2 and says it is a FIFO", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-fifo-" });
  try {
    const fifo = `${dir}/fifo`;
    const mk = await new Deno.Command("mkfifo", { args: [fifo] }).output();
    assert.ok(mk.success);
    const started = Date.now();
    // A controller stuck opening the FIFO ignores SIGINT and --duration:
    // only SIGKILL would end it (exit 137), hence the wrapper.
    const r = await runCli(["run", "--target", fifo, "--duration", "1"], {
      wrap: ["timeout", "-s", "KILL", "30"],
    });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      new RegExp(
        `Cannot use ${fifo} as a target: it is a FIFO \\(named pipe\\), not a regular file`,
      ),
    );
    assert.ok(
      Date.now() - started < 20_000,
      "the controller took long to refuse",
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("run --target <binary claiming a 1 GiB section-name table> is refused with code 2 without reading it", async () => {
  const hello = await copyProgram("hello");
  const pinRoot = testPinRoot("hostile-target");
  try {
    const crafted = `${hello.dir}/crafted`;
    await craftNamesClaim(hello.exe, crafted);
    // GNU time reports the peak resident memory of the whole run.
    const r = await runCli([
      "run",
      "--target",
      crafted,
      "--duration",
      "1",
      "--pin-root",
      pinRoot,
      "--instance",
      "hostile-target",
    ], { wrap: ["/usr/bin/time", "-f", "maxrss=%M"] });
    assert.equal(r.code, 2, r.stderr);
    assert.match(
      r.stderr,
      /section name table claims 1073741824 bytes, over the 1048576-byte limit/,
    );
    const peak = Number(/maxrss=(\d+)/.exec(r.stderr)?.[1]) * 1024;
    // Before: 1.17 GB. A refused run is Deno's own ~60 MB.
    assert.ok(peak < 200 * MiB, `peak memory ${Math.round(peak / MiB)} MiB`);
  } finally {
    await hello.remove();
    removePinRoot(pinRoot);
  }
});

Deno.test({
  name:
    "run --all refuses a crafted binary exec'd by nobody once, without growing, and still traces a program started afterwards",
  ignore: !ebpfAvailable("hostile input: --all and a crafted binary"),
  fn: async () => {
    const receiver = await collectingReceiver();
    const hello = await copyProgram("hello");
    const pinRoot = testPinRoot("hostile-all");
    let controller: ControllerProcess | undefined;
    try {
      await Deno.chmod(hello.dir, 0o755); // nobody runs a file in it
      const crafted = `${hello.dir}/crafted`;
      await craftNamesClaim(hello.exe, crafted);
      controller = new ControllerProcess([
        "run",
        "--all",
        "--include-exe",
        `${hello.dir}/*`,
        "--pin-root",
        pinRoot,
        "--instance",
        "hostile-all",
        "--no-status",
      ], { OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint });
      await controller.waitFor("watching for new processes");
      const before = peakBytes(controller.pid);
      // Twice, by an unprivileged user; the kernel runs it as usual.
      for (let i = 0; i < 2; i++) {
        const out = await new Deno.Command("setpriv", {
          args: [
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            crafted,
            "-rate",
            "10",
            "-duration",
            "500ms",
          ],
          stdin: "null",
        }).output();
        assert.ok(out.success, new TextDecoder().decode(out.stderr));
      }
      const refused = await controller.waitFor(
        "binary refused",
        20_000,
        (l) => l.path === crafted,
      );
      assert.match(
        String(refused.error),
        /section name table claims 1073741824 bytes/,
      );
      // The agent keeps running and traces a normal program afterwards.
      const run = await runHello(hello.exe, { rate: 20, durationMs: 1000 });
      await waitUntil(
        () => helloRunsArrived(receiver.spans, [run]),
        20_000,
        "hello's traces",
      );
      assertHelloRunsArrived(receiver.spans, [run]);
      const grown = peakBytes(controller.pid) - before;
      // Before: +1 GiB per crafted binary, kept.
      assert.ok(
        grown < 64 * MiB,
        `the agent's peak memory grew by ${Math.round(grown / MiB)} MiB`,
      );
      assert.equal(
        controller.logs.filter((l) => l.msg === "binary refused").length,
        1,
        controller.dump(),
      );
      assert.equal(controller.stopped, false, controller.dump());
      assert.equal((await controller.stop()).code, 0, controller.dump());
    } finally {
      if (controller) await stopIfRunning(controller);
      await receiver.close();
      await hello.remove();
      removePinRoot(pinRoot);
    }
  },
});

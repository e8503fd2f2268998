/**
 * Security properties: the kernel never writes into a traced process (no BPF
 * object calls bpf_probe_write_user, helper 36, or any other helper that
 * writes user memory); pins are private to root; the receiver listens on
 * loopback unless told otherwise.
 */
import assert from "node:assert/strict";
import { ebpfAvailable, root } from "../testing/harness.ts";
import { traceHello } from "../testing/traced.ts";

/** BPF helpers that write into user memory or send signals to the target. */
const forbidden = new Map([
  [36, "bpf_probe_write_user"],
  [109, "bpf_send_signal"],
  [117, "bpf_send_signal_thread"],
  [186, "bpf_override_return"],
]);

Deno.test("no probe object calls a helper that writes into the target", async () => {
  const dir = `${root}build/bpf`;
  const objects = [...Deno.readDirSync(dir)].filter((e) =>
    e.name.endsWith(".o")
  ).map((e) => `${dir}/${e.name}`);
  assert.ok(
    objects.length >= 2,
    `expected built probe objects in ${dir} (run deno task build)`,
  );
  for (const obj of objects) {
    const { code, stdout, stderr } = await new Deno.Command("llvm-objdump", {
      args: ["-d", "--no-show-raw-insn", obj],
    }).output();
    assert.equal(code, 0, new TextDecoder().decode(stderr));
    const text = new TextDecoder().decode(stdout);
    const calls = [...text.matchAll(/\bcall (-?\d+)\b/g)].map((m) =>
      Number(m[1])
    );
    assert.ok(
      calls.length > 0,
      `${obj}: no helper calls found; is the disassembly format new?`,
    );
    for (const id of calls) {
      assert.ok(
        !forbidden.has(id),
        `${obj} calls ${forbidden.get(id)} (helper ${id})`,
      );
    }
    assert.ok(
      !text.includes("probe_write_user"),
      `${obj} mentions bpf_probe_write_user`,
    );
  }
});

Deno.test({
  name:
    "a running controller's pin directories are 0700 and its pins 0600, owned by root",
  ignore: !ebpfAvailable("security: pin modes"),
  async fn() {
    const traced = await traceHello({ tag: "modes", env: {} });
    try {
      const seen: string[] = [];
      const walk = async (path: string) => {
        const st = await Deno.stat(path);
        const mode = st.mode! & 0o777;
        seen.push(path);
        assert.equal(st.uid, 0, `${path} is not owned by root`);
        assert.equal(
          mode,
          st.isDirectory ? 0o700 : 0o600,
          `${path} has mode ${mode.toString(8)}`,
        );
        if (st.isDirectory) {
          for await (const e of Deno.readDir(path)) {
            await walk(`${path}/${e.name}`);
          }
        }
      };
      await walk(traced.pinRoot);
      for (const kind of ["progs", "maps", "links"]) {
        assert.ok(
          seen.some((p) => p.endsWith(`/${kind}`)),
          `no ${kind} directory under ${traced.pinRoot}`,
        );
      }
    } finally {
      await traced.close();
    }
  },
});

/** The TCP sockets process `pid` listens on, as "address:port" (IPv4 and IPv6). */
async function listening(pid: number): Promise<string[]> {
  const out: string[] = [];
  for (const file of ["tcp", "tcp6"]) {
    const text = await Deno.readTextFile(`/proc/${pid}/net/${file}`);
    for (const line of text.trim().split("\n").slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      if (state !== "0A") continue; // TCP_LISTEN
      const [hex, port] = local.split(":");
      const address = file === "tcp"
        ? hex.match(/../g)!.reverse().map((b) => parseInt(b, 16)).join(".")
        : hex;
      out.push(`${address}:${parseInt(port, 16)}`);
    }
  }
  return out;
}

Deno.test({
  name: "spanbridge receive listens on 127.0.0.1:4318 only by default",
  // In a network namespace of its own (port 4318 may be in use on the
  // host), which needs root like the eBPF tests.
  ignore: !ebpfAvailable("security: receive bind address"),
  async fn() {
    const child = new Deno.Command("unshare", {
      args: [
        "-n",
        Deno.execPath(),
        "run",
        "-A",
        `${root}src/main.ts`,
        "receive",
        "-q",
      ],
      stdout: "null",
      stderr: "piped",
      stdin: "null",
    }).spawn();
    try {
      const reader = child.stderr.pipeThrough(new TextDecoderStream())
        .getReader();
      let said = "";
      while (!said.includes("listening on")) {
        const { value, done } = await reader.read();
        if (done) break;
        said += value;
      }
      assert.match(said, /listening on http:\/\/127\.0\.0\.1:4318\/v1\/traces/);
      assert.deepEqual(await listening(child.pid), ["127.0.0.1:4318"]);
      reader.releaseLock();
    } finally {
      child.kill("SIGTERM");
      await child.status;
    }
  },
});

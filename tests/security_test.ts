/**
 * The kernel never writes into a traced process: no BPF object calls
 * bpf_probe_write_user (helper 36) or any other helper that writes user memory.
 */
import assert from "node:assert/strict";
import { root } from "./harness.ts";

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

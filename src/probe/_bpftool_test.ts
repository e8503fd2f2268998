import assert from "node:assert/strict";
import { verifierRefusal } from "./_bpftool.ts";

Deno.test("verifierRefusal names the verifier's reason and the source line it refused", () => {
  const stderr = [
    "libbpf: prog 'ended_classes': BPF program load failed: Permission denied",
    "libbpf: prog 'ended_classes': -- BEGIN PROG LOAD LOG --",
    "0: R1=ctx(off=0,imm=0) R10=fp0",
    "; if (bpf_probe_read_user(rec + 1, len, (void *)b->addr)) {",
    "521: (85) call bpf_probe_read_user#112",
    "R2 min value is negative, either use unsigned or 'var &= const'",
    "processed 90 insns (limit 1000000) max_states_per_insn 0 total_states 6",
    "-- END PROG LOAD LOG --",
    "libbpf: prog 'ended_classes': failed to load: -13",
    "Error: failed to load object file",
  ].join("\n");
  assert.equal(
    verifierRefusal(stderr),
    "\"R2 min value is negative, either use unsigned or 'var &= const'\" at `if (bpf_probe_read_user(rec + 1, len, (void *)b->addr)) {`",
  );
});

Deno.test("verifierRefusal is undefined without a program load log (a missing privilege)", () => {
  assert.equal(
    verifierRefusal(
      "libbpf: Error in bpf_object__probe_loading():Operation not permitted(1).",
    ),
    undefined,
  );
});

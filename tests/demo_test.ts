/**
 * The demo end to end: its trace trees hold hello's log records under the
 * spans they were written in; and `./task demo 2>&1 | head`: the demo's
 * output closes early, and the demo must still remove its probe instance
 * ("demo", its own name, so it never adopts or removes the instances of
 * other controllers).
 */
import assert from "node:assert/strict";
import { ebpfAvailable, root } from "../testing/harness.ts";
import { instanceDirs } from "../testing/bpf_objects.ts";

const pinRoot = "/sys/fs/bpf/spanbridge";

/** The instance directories of process `pid` under the default pin root. */
function instancesOf(pid: number): string[] {
  return instanceDirs(pinRoot).map((d) => d.slice(pinRoot.length + 1))
    .filter((name) => name.includes(`_${pid}_`));
}

Deno.test({
  name:
    "the demo piped into head removes its own instance, named demo, when its output closes",
  ignore: !ebpfAvailable("demo piped into head"),
  sanitizeResources: false,
  async fn() {
    const child = new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}tools/demo.ts`],
      env: { SPANBRIDGE_DEMO_SECONDS: "3", NO_COLOR: "1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    try {
      // Like `2>&1 | head`: read until the probe is attached, then close both.
      let text = "";
      const decoder = new TextDecoder();
      const readers = [child.stdout.getReader(), child.stderr.getReader()];
      await Promise.race(readers.map(async (r) => {
        while (!/ attached /.test(text)) {
          const { value, done } = await r.read();
          if (done) return;
          text += decoder.decode(value);
        }
      }));
      assert.match(text, / attached /);
      const dirs = instancesOf(child.pid);
      assert.equal(dirs.length, 1, `the demo's instance: ${dirs}`);
      await Promise.all(readers.map((r) => r.cancel()));
      const status = await child.status;
      assert.ok(
        dirs.every((d) => d.startsWith("demo_")),
        `the demo's instance is not named demo: ${dirs}`,
      );
      assert.deepEqual(instancesOf(child.pid), [], "the demo left its pins");
      assert.ok([0, 1].includes(status.code), `exit ${status.code}:\n${text}`);
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
    }
  },
});

Deno.test({
  name:
    "the demo prints hello's traces with each log record under the span it was written in, and those outside any span by service",
  ignore: !ebpfAvailable("demo"),
  sanitizeResources: false,
  async fn() {
    const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
      args: ["run", "-A", `${root}tools/demo.ts`],
      env: { SPANBRIDGE_DEMO_SECONDS: "3", NO_COLOR: "1" },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stdout) +
      new TextDecoder().decode(stderr);
    assert.equal(code, 0, text);
    // A server span, then its record (written inside it), then its children.
    assert.match(
      text,
      /└─ GET \/orders\/\{id\} {2}\[hello-demo\][^\n]*\n {3}· (INFO {2}order served|ERROR {2}order lookup failed) {2}\[hello-demo\]/,
      text,
    );
    assert.match(
      text,
      /logs \[hello-demo\] {2}\d+ log records? outside any span\n· INFO {2}request received/,
    );
    const count = (label: string) =>
      Number(new RegExp(`${label} +(\\d+)`).exec(text)?.[1]);
    assert.ok(count("log records received") > 0, text);
    assert.equal(
      count("log records printed"),
      count("log records exported"),
      text,
    );
    assert.equal(
      count("spans printed by the receiver"),
      count("spans exported"),
    );
  },
});

import assert from "node:assert/strict";
import { onOverlay } from "./overlay.ts";

Deno.test("onOverlay says yes for a program run from an overlay mount, through /proc/<pid>/exe too", async (t) => {
  if (Deno.uid() !== 0) {
    // Mounting overlayfs needs root; CI runs as root.
    if (Deno.env.get("SPANBRIDGE_SKIP_EBPF") === "1") return;
    throw new Error("onOverlay's test mounts overlayfs: run it as root");
  }
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-overlay-" });
  const [lower, upper, work, merged] = ["l", "u", "w", "m"].map((d) =>
    `${dir}/${d}`
  );
  try {
    for (const d of [lower, upper, work, merged]) await Deno.mkdir(d);
    await Deno.copyFile("/bin/sleep", `${lower}/sleep`);
    await Deno.chmod(`${lower}/sleep`, 0o755);
    const mount = await new Deno.Command("mount", {
      args: [
        "-t",
        "overlay",
        "overlay",
        "-o",
        `lowerdir=${lower},upperdir=${upper},workdir=${work}`,
        merged,
      ],
    }).output();
    assert.equal(mount.code, 0, new TextDecoder().decode(mount.stderr));
    await t.step("a path", () => {
      assert.equal(onOverlay(`${merged}/sleep`), true);
      assert.equal(onOverlay(`${lower}/sleep`), false);
    });
    await t.step("a process's exe", async () => {
      const child = new Deno.Command(`${merged}/sleep`, { args: ["5"] })
        .spawn();
      try {
        assert.equal(onOverlay(`/proc/${child.pid}/exe`), true);
      } finally {
        child.kill();
        await child.status;
      }
    });
  } finally {
    await new Deno.Command("umount", { args: [merged] }).output();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("onOverlay says no for a gone process", () => {
  assert.equal(onOverlay(`/proc/${2 ** 22 + 7}/exe`), false);
});

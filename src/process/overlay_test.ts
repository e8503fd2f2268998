import assert from "node:assert/strict";
import { fsTypeOf, onOverlay, splitDev } from "./overlay.ts";

const mountinfo = [
  "80 53 0:42 / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/l/A,upperdir=/var/lib/u/diff,workdir=/var/lib/u/work",
  "81 80 0:45 / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw",
  "36 35 98:0 /mnt1 /mnt/parent rw,noatime master:1 shared:7 - ext3 /dev/root rw,errors=continue",
].join("\n");

Deno.test("fsTypeOf finds a mount's type by device, past optional fields", () => {
  assert.equal(fsTypeOf(mountinfo, 0, 42, "/app/server"), "overlay");
  assert.equal(fsTypeOf(mountinfo, 0, 45, "/proc/1/stat"), "proc");
  assert.equal(fsTypeOf(mountinfo, 98, 0, "/mnt/parent/x"), "ext3");
});

Deno.test("fsTypeOf falls back to the mount the path lies on, for a device no mount has", () => {
  // A lower layer's own device (overlayfs on several file systems, no xino).
  assert.equal(fsTypeOf(mountinfo, 0, 77, "/app/server"), "overlay");
  assert.equal(fsTypeOf(mountinfo, 0, 77, "/mnt/parent/bin/x"), "ext3");
  assert.equal(fsTypeOf(mountinfo, 0, 77, "/mnt/parentx"), "overlay");
  const spaced = "90 80 0:50 / /my\\040dir rw - tmpfs tmpfs rw";
  assert.equal(fsTypeOf(spaced, 0, 77, "/my dir/f"), "tmpfs");
  assert.equal(fsTypeOf("", 0, 77, "/app/server"), undefined);
});

Deno.test("splitDev decodes glibc's dev_t", () => {
  assert.deepEqual(splitDev(42), { major: 0, minor: 42 });
  assert.deepEqual(splitDev(0xfe00), { major: 254, minor: 0 });
  // A minor past 255 keeps its high bits above the major's.
  assert.deepEqual(splitDev(0x11032c), { major: 259, minor: 300 });
});

Deno.test("onOverlay says no for this process's root on a disk, and for a gone process", async () => {
  const root = await Deno.stat("/");
  if (splitDev(root.dev).major !== 0) {
    assert.equal(await onOverlay(root.dev, "self", "/"), false);
  }
  assert.equal(await onOverlay(42, 2 ** 22 + 7, "/app/server"), false);
});

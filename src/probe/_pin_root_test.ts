// The pin root is trusted only when it is root's, private, a real directory
// and on bpffs; anything else is refused with one line, and nothing is made.
import {
  deepStrictEqual as assertEquals,
  ok as assert,
  throws as assertThrows,
} from "node:assert/strict";
import { existsSync } from "node:fs";
import { EnvironmentError } from "../errors.ts";
import { ensurePinRoot, removePinRootIfEmpty } from "./_pin_root.ts";
import { ebpfTest, removePinRoot, testPinRoot } from "../../testing/ebpf.ts";

function refused(fn: () => void, pattern: RegExp): void {
  assertThrows(fn, (e) => {
    assert(e instanceof EnvironmentError, String(e));
    assert(pattern.test(e.message), e.message);
    assertEquals(e.message.split("\n").length, 1);
    return true;
  });
}

ebpfTest(
  "ensurePinRoot creates a missing pin root owned by root with mode 0700",
  () => {
    const root = testPinRoot("trust");
    try {
      ensurePinRoot(root);
      const st = Deno.lstatSync(root);
      assertEquals([st.isDirectory, st.uid, st.mode! & 0o7777], [
        true,
        0,
        0o700,
      ]);
      ensurePinRoot(root); // and accepts it the next time
    } finally {
      removePinRoot(root);
    }
  },
);

ebpfTest("ensurePinRoot refuses a pin root another user owns", () => {
  const root = testPinRoot("trust");
  try {
    Deno.mkdirSync(root, { mode: 0o700 });
    Deno.chownSync(root, 65534, 65534);
    refused(() => ensurePinRoot(root), /owned by uid 65534, not root/);
  } finally {
    removePinRoot(root);
  }
});

ebpfTest("ensurePinRoot refuses a pin root others may enter", () => {
  const root = testPinRoot("trust");
  try {
    Deno.mkdirSync(root);
    Deno.chmodSync(root, 0o1777);
    refused(() => ensurePinRoot(root), /mode is 1777, not 700/);
  } finally {
    removePinRoot(root);
  }
});

ebpfTest(
  "ensurePinRoot refuses a symlink, even to a good pin root, and a path through one",
  () => {
    const target = testPinRoot("trust");
    const link = testPinRoot("trust");
    const dirLink = testPinRoot("trust");
    try {
      Deno.mkdirSync(target, { mode: 0o700 });
      Deno.symlinkSync(target, link);
      refused(() => ensurePinRoot(link), /is a symlink/);
      Deno.symlinkSync("/sys/fs/bpf", dirLink);
      refused(
        () =>
          ensurePinRoot(`${dirLink}/${target.slice("/sys/fs/bpf/".length)}`),
        /goes through a symlink/,
      );
    } finally {
      Deno.removeSync(link);
      Deno.removeSync(dirLink);
      removePinRoot(target);
    }
  },
);

ebpfTest(
  "ensurePinRoot refuses a missing pin root behind a symlinked parent and creates nothing",
  () => {
    const root = testPinRoot("trust");
    const parentLink = Deno.makeTempDirSync() + "/bpf";
    try {
      Deno.symlinkSync("/sys/fs/bpf", parentLink);
      const name = root.slice("/sys/fs/bpf/".length);
      refused(
        () => ensurePinRoot(`${parentLink}/${name}`),
        /goes through a symlink/,
      );
      assertEquals(existsSync(root), false);
    } finally {
      Deno.removeSync(parentLink.slice(0, -"/bpf".length), { recursive: true });
      removePinRoot(root);
    }
  },
);

ebpfTest(
  "ensurePinRoot refuses a directory that is not on bpffs and creates nothing there",
  () => {
    const dir = Deno.makeTempDirSync();
    try {
      Deno.chmodSync(dir, 0o700);
      refused(() => ensurePinRoot(dir), /no bpffs is mounted there/);
      refused(
        () => ensurePinRoot(`${dir}/spanbridge`),
        /no bpffs is mounted there/,
      );
      assertEquals(existsSync(`${dir}/spanbridge`), false);
    } finally {
      Deno.removeSync(dir, { recursive: true });
    }
  },
);

ebpfTest("removePinRootIfEmpty keeps a pin root with an instance in it", () => {
  const root = testPinRoot("trust");
  try {
    ensurePinRoot(root);
    Deno.mkdirSync(`${root}/x`);
    removePinRootIfEmpty(root);
    assert(existsSync(root));
    Deno.removeSync(`${root}/x`);
    removePinRootIfEmpty(root);
    assert(!existsSync(root));
    removePinRootIfEmpty(root); // already gone: fine
  } finally {
    removePinRoot(root);
  }
});

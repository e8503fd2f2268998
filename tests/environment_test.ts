/**
 * A machine that lacks something: no privilege, no bpffs, no bpftool, no
 * libbpf.so.1. Each makes `spanbridge run` end at once with one clear line
 * naming what is missing and exit code 3, leaving no pins behind. Missing
 * pieces are simulated for the controller alone: capabilities dropped with
 * setpriv, files hidden in a private mount namespace (unshare -m).
 *
 * Not simulated (the kernel cannot be changed under a test): a kernel
 * without the uprobe PMU or BPF ring buffers; src/ffi/perf_test.ts and
 * src/probe/_objects_test.ts check those messages through their seams.
 */
import assert from "node:assert/strict";
import {
  copyProgram,
  ebpfAvailable,
  removePinRoot,
  runCli,
  testPinRoot,
} from "../testing/harness.ts";
import { instanceDirs } from "../testing/bpf_objects.ts";

/** Deno's cache directory (the npm packages the CLI imports). */
async function denoDir(): Promise<string> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["info", "--json"],
  }).output();
  return JSON.parse(new TextDecoder().decode(out.stdout)).denoDir;
}

/** Where `name` is installed, resolved through symlinks, or undefined. */
async function installed(
  name: string,
  lookup: string[],
): Promise<string | undefined> {
  const out = await new Deno.Command(lookup[0], { args: lookup.slice(1) })
    .output();
  const text = new TextDecoder().decode(out.stdout);
  const path = text.split("\n").map((l) => l.trim().split(/\s+/).at(-1))
    .find((p) => p?.startsWith("/") && p.includes(name));
  return path ? await Deno.realPath(path) : undefined;
}

/** One missing piece of the environment. */
interface Case {
  /** What the machine lacks. */
  lacks: string;
  /**
   * How to run `spanbridge run --target <exe> --pin-root <root>` without
   * it: a wrapper command, extra flags, and a directory to remove after.
   */
  wrap(
    exe: string,
    pinRoot: string,
  ): Promise<{ wrap: string[]; args?: string[]; cleanup?: string }>;
  /** What the one line must say. */
  says: RegExp;
}

const cases: Case[] = [
  {
    lacks: "every capability (root with an empty bounding set)",
    wrap: () =>
      Promise.resolve({
        wrap: ["setpriv", "--inh-caps=-all", "--bounding-set=-all", "--"],
      }),
    says: /Operation not permitted\. Run as root or grant CAP_BPF, CAP_PERFMON/,
  },
  {
    lacks: "CAP_PERFMON and CAP_SYS_ADMIN (CAP_BPF kept)",
    wrap: () =>
      Promise.resolve({
        wrap: [
          "setpriv",
          "--inh-caps=-all",
          "--bounding-set=-perfmon,-sys_admin",
          "--",
        ],
      }),
    says: /Cannot load the probe: .*Operation not permitted\. Run as root/,
  },
  {
    lacks: "root (uid 65534, no capabilities)",
    wrap: async (exe) => {
      // The Deno cache under /root is out of reach of uid 65534: show it
      // the same cache through a bind mount in a private mount namespace.
      const cache = await Deno.makeTempDir({ prefix: "spanbridge-denodir-" });
      await Deno.chmod(cache, 0o755);
      await Deno.chmod(exe.slice(0, exe.lastIndexOf("/")), 0o755);
      return {
        wrap: [
          "unshare",
          "-m",
          "sh",
          "-c",
          `mount --bind "${await denoDir()}" "${cache}" && exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all env DENO_DIR="${cache}" HOME=/tmp "$0" "$@"`,
        ],
        cleanup: cache,
      };
    },
    // The pin root must belong to root: a user cannot even create it.
    // (On a bpffs mounted 0700 it cannot even look: Permission denied.)
    says:
      /Cannot (create|check) the pin root .*(Operation not permitted|Permission denied).*Run as root\./,
  },
  {
    lacks: "bpffs under --pin-root (a /tmp directory)",
    wrap: () =>
      Promise.resolve({
        wrap: [],
        args: ["--pin-root", `/tmp/spanbridge-not-bpffs-${Deno.pid}`],
      }),
    says: /no bpffs is mounted there\. Mount it/,
  },
  {
    lacks: "a mounted bpffs (unmounted in a private mount namespace)",
    wrap: () =>
      Promise.resolve({
        wrap: [
          "unshare",
          "-m",
          "sh",
          "-c",
          'umount /sys/fs/bpf && exec "$0" "$@"',
        ],
      }),
    says:
      /Cannot pin the probe under \/sys\/fs\/bpf\/spanbridge-test-.*: no bpffs is mounted there/,
  },
  {
    lacks: "bpftool (its directories hidden by a tmpfs)",
    wrap: async () => {
      const where = new Set(["/usr/sbin"]);
      const found = await installed("bpftool", [
        "sh",
        "-c",
        "command -v bpftool",
      ]);
      if (found) where.add(found.slice(0, found.lastIndexOf("/")));
      const hide = [...where].map((d) => `mount -t tmpfs none ${d}`).join(
        " && ",
      );
      return {
        wrap: ["unshare", "-m", "sh", "-c", `${hide} && exec "$0" "$@"`],
      };
    },
    says: /bpftool is not installed\. Install it/,
  },
  {
    lacks: "libbpf.so.1 (an empty file mounted over it)",
    wrap: async () => {
      const lib = await installed("libbpf.so.1", ["/sbin/ldconfig", "-p"]);
      assert.ok(lib, "libbpf.so.1 is not installed on this machine");
      return {
        wrap: [
          "unshare",
          "-m",
          "sh",
          "-c",
          `mount --bind /dev/null "${lib}" && exec "$0" "$@"`,
        ],
      };
    },
    says: /Cannot load libbpf\.so\.1: .*Install libbpf 1\.x/,
  },
];

for (const c of cases) {
  Deno.test({
    name: `spanbridge run without ${c.lacks} says so in one line and exits 3`,
    ignore: !ebpfAvailable(`environment: ${c.lacks}`),
    async fn() {
      const hello = await copyProgram("hello");
      const pinRoot = testPinRoot("env");
      let cleanup: string | undefined;
      try {
        const { wrap, args, ...rest } = await c.wrap(hello.exe, pinRoot);
        cleanup = rest.cleanup;
        const r = await runCli(
          [
            "run",
            "--target",
            hello.exe,
            "--pin-root",
            pinRoot,
            ...(args ?? []),
            "--log-format",
            "json",
            "--duration",
            "5",
          ],
          { wrap },
        );
        const lines = r.stderr.trim().split("\n");
        const last = JSON.parse(lines.at(-1)!);
        assert.equal(r.code, 3, r.stderr);
        assert.equal(last.level, "error");
        assert.match(last.msg, c.says);
        assert.ok(!last.msg.includes("\n"), `more than one line: ${last.msg}`);
        assert.ok(
          lines.every((l) => !/"level":"warn"/.test(l)),
          `warnings before the error:\n${r.stderr}`,
        );
        assert.deepEqual(instanceDirs(pinRoot), [], "pins left behind");
      } finally {
        if (cleanup) await Deno.remove(cleanup, { recursive: true });
        await hello.remove();
        await removePinRoot(pinRoot);
      }
    },
  });
}

/**
 * An exec storm as a hostile local user makes one: thousands of distinct
 * small binaries without the SDK, executed as fast as asked, as `nobody`
 * when the test runs as root. Used by tests/storm_test.ts and
 * bench/storm.ts.
 *
 * The binaries are made here: on x86_64 a 129-byte static ELF file that
 * only calls exit(0) (no loader, no libc: ~5,000 execs/s fit on two busy
 * cores, which copies of /bin/true do not), elsewhere copies of /bin/true.
 * Each is its own file (own inode), which is what makes them distinct to
 * the agent; hard links would be one binary.
 *
 * @module
 */
import { root } from "./harness.ts";

/** The user and group `nobody` (65534) on Debian and most distributions. */
export const nobody = 65534;

/** A static x86_64 ELF executable whose code is `exit(0)`. */
function exitZeroElf(): Uint8Array<ArrayBuffer> {
  const code = [0xb8, 0x3c, 0, 0, 0, 0x31, 0xff, 0x0f, 0x05]; // mov eax,60; xor edi,edi; syscall
  const base = 0x400000, ehsize = 64, phsize = 56;
  const total = ehsize + phsize + code.length;
  const b = new Uint8Array(total);
  const v = new DataView(b.buffer);
  b.set([0x7f, 0x45, 0x4c, 0x46, 2, 1, 1]); // ELF, 64-bit, little-endian, v1
  v.setUint16(16, 2, true); // ET_EXEC
  v.setUint16(18, 62, true); // x86_64
  v.setUint32(20, 1, true);
  v.setBigUint64(24, BigInt(base + ehsize + phsize), true); // entry
  v.setBigUint64(32, BigInt(ehsize), true); // phoff
  v.setUint16(52, ehsize, true);
  v.setUint16(54, phsize, true);
  v.setUint16(56, 1, true); // one program header
  v.setUint16(58, 64, true);
  const ph = ehsize;
  v.setUint32(ph, 1, true); // PT_LOAD
  v.setUint32(ph + 4, 5, true); // R + X
  v.setBigUint64(ph + 16, BigInt(base), true); // vaddr
  v.setBigUint64(ph + 24, BigInt(base), true); // paddr
  v.setBigUint64(ph + 32, BigInt(total), true); // filesz
  v.setBigUint64(ph + 40, BigInt(total), true); // memsz
  v.setBigUint64(ph + 48, 0x1000n, true); // align
  b.set(code, ehsize + phsize);
  return b;
}

/**
 * Writes `n` distinct programs without the SDK into `dir` (created, mode
 * 0755 so that `nobody` can run them) and returns the directory. With
 * `padTo`, each file is extended to that size with a hole (sparse: no disk
 * used), so that its size alone does not tell it from a Go program.
 */
export async function writeStormPrograms(
  dir: string,
  n: number,
  padTo = 0,
): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  await Deno.chmod(dir, 0o755);
  const bytes = Deno.build.arch === "x86_64"
    ? exitZeroElf()
    : await Deno.readFile("/bin/true");
  const width = String(n).length;
  for (let i = 0; i < n; i++) {
    const path = `${dir}/p${String(i).padStart(width, "0")}`;
    await Deno.writeFile(path, bytes, { mode: 0o755 });
    if (padTo > bytes.length) await Deno.truncate(path, padTo);
  }
  return dir;
}

/** Builds testing/storm (the exec driver) into `dir`; returns its path. */
export async function buildStormDriver(dir: string): Promise<string> {
  const exe = `${dir}/storm-driver`;
  const { code, stderr } = await new Deno.Command("go", {
    args: ["build", "-o", exe, "."],
    cwd: `${root}testing/storm`,
    stderr: "piped",
  }).output();
  if (code !== 0) {
    throw new Error(
      `Cannot build the exec storm driver (go build in ${root}testing/storm): ${
        new TextDecoder().decode(stderr).trim()
      }`,
    );
  }
  return exe;
}

/** What {@linkcode runStorm} reports. */
export interface StormResult {
  /** Programs executed to their end. */
  execs: number;
  /** Execs that failed. */
  failed: number;
  /** Wall-clock seconds of the storm. */
  seconds: number;
  /** Execs per second achieved. */
  rate: number;
}

/** Options of {@linkcode runStorm}. */
export interface StormOptions {
  /** The driver from {@linkcode buildStormDriver}. */
  driver: string;
  /** The directory of programs from {@linkcode writeStormPrograms}. */
  programs: string;
  /** Execs per second. */
  rate: number;
  /** How long, in milliseconds. */
  durationMs: number;
}

/**
 * Executes the programs round robin at `rate` for `durationMs`, as
 * `nobody` when this process is root.
 */
export async function runStorm(options: StormOptions): Promise<StormResult> {
  const asNobody = Deno.uid() === 0
    ? ["-uid", `${nobody}`, "-gid", `${nobody}`]
    : [];
  const { code, stdout, stderr } = await new Deno.Command(options.driver, {
    args: [
      "-dir",
      options.programs,
      "-rate",
      `${options.rate}`,
      "-duration",
      `${options.durationMs}ms`,
      ...asNobody,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const dec = new TextDecoder();
  if (code !== 0) {
    throw new Error(
      `The exec storm driver exited with ${code}: ${dec.decode(stderr).trim()}`,
    );
  }
  return JSON.parse(dec.decode(stdout));
}

/**
 * One probe instance: a pin directory under the pin root and everything
 * pinned in it (the program, its maps, the ring, one uprobe link per
 * binary), with the open handles of each. An {@linkcode Instance} is made by
 * loading a fresh directory with bpftool ({@linkcode Instance.load}) or by
 * adopting the directory of a controller that died without cleaning up
 * ({@linkcode Instance.adopt}); {@linkcode Instance.close} removes it again.
 *
 * The directory's name holds the instance name, the owner process (pid and
 * start time, so a reused pid is not mistaken for the owner) and the BPF
 * object's digest, so an instance is only adopted by a controller running
 * the same program:
 *
 *   <name>_<pid>_<start>_<n>_<digest>/
 *     progs/ended_<kind>   the program
 *     maps/{rb,sb_counters,sb_config,sb_pids}
 *     links/<dev>_<ino>_<offset>   one pinned uprobe link per binary
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { EnvironmentError } from "../errors.ts";
import { closeFd, objGet } from "../ffi/mod.ts";
import { startTicks } from "../process/mod.ts";
import { bpftool, VerifierError } from "./_bpftool.ts";
import { type Attachment, Links } from "./_links.ts";
import { ProbeMaps } from "./_maps.ts";
import { type ProbeKind, writeTempObject } from "./_objects.ts";
import { openRing, type RingReader } from "./ring.ts";

/** The fields encoded in an instance directory's name. */
export interface InstanceId {
  /** The instance name chosen by the controller (letters, digits, -). */
  name: string;
  /** Owner process id. */
  pid: number;
  /** Owner's start time in clock ticks since boot (/proc/<pid>/stat field 22). */
  start: number;
  /** A random number distinguishing instances of one process. */
  n: number;
  /** The first hex digits of the BPF object's SHA-256. */
  digest: string;
}

/** A BPF object the controller can run, in order of preference. */
export interface ProbeObject {
  /** Which program it holds. */
  kind: ProbeKind;
  /** The object file's bytes. */
  bytes: Uint8Array;
  /** Its digest, part of the instance directory name. */
  digest: string;
}

const pattern = /^([A-Za-z0-9-]+)_(\d+)_(\d+)_(\d+)_([0-9a-f]+)$/;

/** Directory name of an instance (bpffs refuses dots in names). */
export function instanceDirName(id: InstanceId): string {
  return `${id.name}_${id.pid}_${id.start}_${id.n}_${id.digest}`;
}

/** Parses a directory name made by {@linkcode instanceDirName}. */
export function parseInstanceDirName(dirName: string): InstanceId | null {
  const m = pattern.exec(dirName);
  if (!m) return null;
  return {
    name: m[1],
    pid: Number(m[2]),
    start: Number(m[3]),
    n: Number(m[4]),
    digest: m[5],
  };
}

/** True while the process that made the instance runs (a zombie has exited). */
export function ownerAlive(id: InstanceId): boolean {
  return startTicks(id.pid) === id.start;
}

/** The instance directories under `root` (none if root does not exist). */
export function listInstances(root: string): { dir: string; id: InstanceId }[] {
  const out: { dir: string; id: InstanceId }[] = [];
  try {
    for (const e of Deno.readDirSync(root)) {
      const id = e.isDirectory ? parseInstanceDirName(e.name) : null;
      if (id) out.push({ dir: `${root}/${e.name}`, id });
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  return out.sort((a, b) => a.dir < b.dir ? -1 : 1);
}

/**
 * Removes an instance directory: links first (each removal detaches one
 * uprobe), then programs and maps. Missing entries are fine.
 */
function removeInstanceDir(dir: string): void {
  try {
    for (const e of Deno.readDirSync(`${dir}/links`)) {
      Deno.removeSync(`${dir}/links/${e.name}`);
    }
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
  try {
    Deno.removeSync(dir, { recursive: true });
  } catch (e) {
    if (!(e instanceof Deno.errors.NotFound)) throw e;
  }
}

/** A pin directory of this process for `name` running the object `digest`. */
function newDir(root: string, name: string, digest: string): string {
  const start = startTicks(Deno.pid) ?? 0;
  // Random rather than counted: isolates (workers) of one process would
  // repeat a counter.
  const n = crypto.getRandomValues(new Uint32Array(1))[0];
  const id = { name, pid: Deno.pid, start, n, digest };
  return `${root}/${instanceDirName(id)}`;
}

/** A loaded or adopted probe instance and its open handles. */
export class Instance {
  /** The pin directory. */
  readonly dir: string;
  /** The program it runs. */
  readonly kind: ProbeKind;
  /** True when it was adopted from a controller that died. */
  readonly adopted: boolean;
  /** The control maps (counters, config, pid filter). */
  readonly maps: ProbeMaps;
  /** The pinned uprobe links. */
  readonly links: Links;
  /** The ring buffer reader. */
  readonly ring: RingReader;
  readonly #progFd: number;
  #closed = false;

  private constructor(dir: string, kind: ProbeKind, adopted: boolean) {
    const progFd = objGet(`${dir}/progs/ended_${kind}`);
    let maps: ProbeMaps | undefined;
    let ring: RingReader | undefined;
    let links: Links;
    try {
      maps = new ProbeMaps(`${dir}/maps`);
      ring = openRing(`${dir}/maps/rb`);
      links = new Links(`${dir}/links`);
    } catch (e) {
      ring?.close();
      maps?.close();
      closeFd(progFd);
      throw e;
    }
    this.dir = dir;
    this.kind = kind;
    this.adopted = adopted;
    this.maps = maps;
    this.ring = ring;
    this.links = links;
    this.#progFd = progFd;
  }

  /**
   * Attaches the program to `path` at `fileOffset`, for every process or
   * for process `pid` alone; idempotent per file (device and inode), offset
   * and pid.
   */
  attach(path: string, fileOffset: number, pid = -1): Attachment {
    if (this.#closed) {
      throw new Error(`Cannot attach to ${path}: the probe is closed.`);
    }
    return this.links.attach(this.#progFd, path, fileOffset, pid);
  }

  /**
   * Stops reading, detaches, closes every handle and removes the pin
   * directory. Idempotent.
   */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.ring.close();
    this.links.detachAll();
    this.maps.close();
    closeFd(this.#progFd);
    removeInstanceDir(this.dir);
  }

  /**
   * Loads the first of `objects` the kernel accepts into a new pin directory
   * under `root`; logs each refusal but the last, which it throws. Nothing
   * is left behind on failure.
   */
  static async load(
    root: string,
    name: string,
    objects: ProbeObject[],
    ringBytes: number,
    log: Logger,
  ): Promise<Instance> {
    for (const [i, o] of objects.entries()) {
      const dir = newDir(root, name, o.digest);
      try {
        await loadDir(dir, o.bytes, ringBytes);
        const instance = new Instance(dir, o.kind, false);
        log.info("loaded the probe", { dir, kind: o.kind, ringBytes });
        return instance;
      } catch (e) {
        // E.g. libbpf.so.1 is missing: bpftool (static) loaded it, we
        // cannot open it.
        removeInstanceDir(dir);
        // A missing privilege or tool fails the next object the same way;
        // a verifier's refusal is about this program only.
        if (
          i === objects.length - 1 ||
          (e instanceof EnvironmentError && !(e instanceof VerifierError))
        ) throw e;
        log.warn(
          `cannot load the ${o.kind} probe; falling back to ${
            objects[i + 1].kind
          }`,
          { error: (e as Error).message },
        );
      }
    }
    throw new Error("Cannot load the probe: no BPF object was given.");
  }

  /**
   * Handles the instances under `root` named `name` whose controller is
   * gone: takes over the first one running one of `objects` (unless `adopt`
   * is false) and removes the others, and one that cannot be opened.
   * Instances of other names are left alone. Returns the adopted instance,
   * if any. The caller holds the pin root's lock and has checked that no
   * live controller runs `name`.
   */
  static adopt(
    root: string,
    name: string,
    objects: ProbeObject[],
    adopt: boolean,
    log: Logger,
  ): Instance | null {
    let adopted: Instance | null = null;
    for (const orphan of listInstances(root)) {
      if (orphan.id.name !== name || ownerAlive(orphan.id)) continue;
      const match = objects.find((o) => o.digest === orphan.id.digest);
      if (!adopted && match && adopt) {
        const dir = newDir(root, name, match.digest);
        Deno.renameSync(orphan.dir, dir);
        try {
          adopted = new Instance(dir, match.kind, true);
          log.info("adopted the probe instance of a controller that exited", {
            from: orphan.dir,
            to: dir,
            pid: orphan.id.pid,
          });
        } catch (e) {
          // E.g. the dead controller was killed halfway through loading.
          removeInstanceDir(dir);
          log.warn("cannot use the adopted probe instance; removed it", {
            dir,
            error: (e as Error).message,
          });
        }
        continue;
      }
      const unreadBytes = waitingIn(orphan.dir);
      removeInstanceDir(orphan.dir);
      log.warn("removed the probe instance of a controller that exited", {
        dir: orphan.dir,
        pid: orphan.id.pid,
        unreadBytes,
        why: match
          ? "an instance was already adopted or adoption is off"
          : "it runs a different BPF object",
      });
    }
    return adopted;
  }
}

/** Creates `dir`, the ring, loads and pins the program and maps. */
async function loadDir(
  dir: string,
  bytes: Uint8Array,
  ringBytes: number,
): Promise<void> {
  try {
    Deno.mkdirSync(dir, { mode: 0o700 });
  } catch (e) {
    if (!(e instanceof Deno.errors.PermissionDenied)) throw e;
    throw new EnvironmentError(
      `Cannot create the pin directory ${dir}: ${e.message}. Run as root.`,
      { cause: e },
    );
  }
  const objectPath = writeTempObject(bytes);
  try {
    // The ring is created first so its size needs no recompile, then
    // reused by name at load and pinned again with the other maps.
    await bpftool(
      [
        "map",
        "create",
        `${dir}/ring`,
        "type",
        "ringbuf",
        "key",
        "0",
        "value",
        "0",
        "entries",
        `${ringBytes}`,
        "name",
        "rb",
      ],
      "Cannot create the probe's ring buffer",
    );
    await bpftool(
      [
        "prog",
        "loadall",
        objectPath,
        `${dir}/progs`,
        "map",
        "name",
        "rb",
        "pinned",
        `${dir}/ring`,
        "pinmaps",
        `${dir}/maps`,
      ],
      "Cannot load the probe",
    );
    Deno.removeSync(`${dir}/ring`);
    Deno.mkdirSync(`${dir}/links`, { mode: 0o700 });
  } finally {
    Deno.removeSync(objectPath.slice(0, objectPath.lastIndexOf("/")), {
      recursive: true,
    });
  }
}

function waitingIn(dir: string): number | null {
  try {
    const reader = openRing(`${dir}/maps/rb`);
    const n = reader.waitingBytes();
    reader.close();
    return n;
  } catch {
    return null;
  }
}

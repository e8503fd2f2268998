/**
 * The life of instance directories: loading a fresh instance with bpftool,
 * and, at start, adopting or removing the instances of controllers that
 * died without cleaning up (SIGKILL, crash, power loss of the process).
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { EnvironmentError } from "../ffi/mod.ts";
import { openRing } from "../ring/mod.ts";
import { bpftool } from "./_bpftool.ts";
import { type ProbeKind, writeTempObject } from "./_objects.ts";
import {
  instanceDirName,
  listInstances,
  makePrivateDir,
  ownerAlive,
  processStart,
  removeInstance,
} from "./_pins.ts";

/** A BPF object the controller can run, in order of preference. */
export interface ProbeObject {
  /** Which program it holds. */
  kind: ProbeKind;
  /** The object file's bytes. */
  bytes: Uint8Array;
  /** Its digest, part of the instance directory name. */
  digest: string;
}

function newDir(root: string, name: string, digest: string): string {
  const start = processStart(Deno.pid) ?? 0;
  // Random rather than counted: isolates (workers) of one process would
  // repeat a counter.
  const n = crypto.getRandomValues(new Uint32Array(1))[0];
  const id = { name, pid: Deno.pid, start, n, digest };
  return `${root}/${instanceDirName(id)}`;
}

/**
 * Handles the instances under `root` named `name` whose controller is gone:
 * renames the first one running one of `objects` to a directory of this
 * process (unless `adopt` is false) and removes the others. Instances of
 * live controllers and of other names are left alone. Returns the adopted
 * instance, if any.
 */
export function takeOrphans(
  root: string,
  name: string,
  objects: ProbeObject[],
  adopt: boolean,
  log: Logger,
): { dir: string; kind: ProbeKind } | null {
  let adopted: { dir: string; kind: ProbeKind } | null = null;
  for (const orphan of listInstances(root)) {
    if (orphan.id.name !== name || ownerAlive(orphan.id)) continue;
    const match = objects.find((o) => o.digest === orphan.id.digest);
    if (!adopted && match && adopt) {
      const dir = newDir(root, name, match.digest);
      try {
        Deno.renameSync(orphan.dir, dir); // atomic: one controller wins
      } catch (e) {
        if (e instanceof Deno.errors.NotFound) continue; // another one took it
        throw e;
      }
      adopted = { dir, kind: match.kind };
      log.info("adopted the probe instance of a controller that exited", {
        from: orphan.dir,
        to: dir,
        pid: orphan.id.pid,
      });
      continue;
    }
    const unreadBytes = waitingIn(orphan.dir);
    removeInstance(orphan.dir);
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

/**
 * Loads the first of `objects` the kernel accepts into a new instance
 * directory; logs each refusal but the last, which it throws.
 */
export async function loadFirst(
  root: string,
  name: string,
  objects: ProbeObject[],
  ringBytes: number,
  log: Logger,
): Promise<{ dir: string; kind: ProbeKind }> {
  for (const [i, o] of objects.entries()) {
    const dir = newDir(root, name, o.digest);
    try {
      await loadInstance(dir, o.bytes, ringBytes);
      log.info("loaded the probe", { dir, kind: o.kind, ringBytes });
      return { dir, kind: o.kind };
    } catch (e) {
      // A missing privilege or tool fails the next object the same way.
      if (i === objects.length - 1 || e instanceof EnvironmentError) throw e;
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

/** Creates `dir`, the ring, loads and pins the program and maps. */
async function loadInstance(
  dir: string,
  bytes: Uint8Array,
  ringBytes: number,
): Promise<void> {
  makePrivateDir(dir);
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
    makePrivateDir(`${dir}/links`);
  } catch (e) {
    removeInstance(dir);
    throw e;
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

/**
 * Pinned uprobe links, one per probed binary (device, inode) and offset, or
 * one per process of it when the probe is for given processes only: a
 * pinned link keeps the program attached without any process holding it,
 * so it survives a controller restart, and removing the pin detaches.
 *
 * @module
 */

import { closeFd, linkPerfEvent, objPin, openUprobe } from "../ffi/mod.ts";

/** One pinned uprobe on one executable file. */
export interface Attachment {
  /** The link's pin name: `<dev>_<ino>_<offset>`, then `_<pid>` for one process. */
  readonly key: string;
  /** Device of the probed file. */
  readonly dev: number;
  /** Inode of the probed file. */
  readonly ino: number;
  /** File offset of the probed instruction. */
  readonly offset: number;
  /** The one process whose calls the link sees, or -1 for every process. */
  readonly pid: number;
  /** The path given to attach, or null for a link adopted from a previous controller. */
  readonly path: string | null;
  /** Removes the link's pin, which detaches the uprobe. Idempotent. */
  detach(): void;
}

/** The attachments of one instance, kept as pins in `<instance>/links`. */
export class Links {
  #dir: string;
  #byKey = new Map<string, Attachment>();

  /** Manages the links pinned in `dir`, adopting the ones already there. */
  constructor(dir: string) {
    this.#dir = dir;
    for (const e of Deno.readDirSync(dir)) {
      const m = /^(\d+)_(\d+)_(\d+)(?:_(\d+))?$/.exec(e.name);
      if (m) {
        const [dev, ino, offset] = [m[1], m[2], m[3]].map(Number);
        this.#add(e.name, dev, ino, offset, Number(m[4] ?? -1), null);
      }
    }
  }

  /** Current attachments. */
  list(): Attachment[] {
    return [...this.#byKey.values()];
  }

  /**
   * Attaches `progFd` to `path` at `offset`, for every process (`pid` -1)
   * or for process `pid` alone, unless that file already is (for the same
   * processes).
   */
  attach(
    progFd: number,
    path: string,
    offset: number,
    pid = -1,
  ): Attachment {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`Cannot attach the probe to ${path}: ${why}.`);
    }
    const key = `${st.dev}_${st.ino}_${offset}${pid === -1 ? "" : `_${pid}`}`;
    const existing = this.#byKey.get(key);
    if (existing) return existing;
    const perfFd = openUprobe(path, offset, pid);
    let linkFd = -1;
    try {
      linkFd = linkPerfEvent(
        progFd,
        perfFd,
        `${path} at offset 0x${offset.toString(16)}`,
      );
      objPin(linkFd, `${this.#dir}/${key}`);
    } finally {
      // The pin holds the link and the link holds the perf event.
      closeFd(linkFd);
      closeFd(perfFd);
    }
    return this.#add(key, st.dev, st.ino ?? 0, offset, pid, path);
  }

  /** Detaches everything. */
  detachAll(): void {
    for (const a of this.list()) a.detach();
  }

  #add(
    key: string,
    dev: number,
    ino: number,
    offset: number,
    pid: number,
    path: string | null,
  ): Attachment {
    const pin = `${this.#dir}/${key}`;
    const byKey = this.#byKey;
    const a: Attachment = {
      key,
      dev,
      ino,
      offset,
      pid,
      path,
      detach() {
        if (byKey.get(key) !== a) return;
        byKey.delete(key);
        try {
          Deno.removeSync(pin);
        } catch (e) {
          if (!(e instanceof Deno.errors.NotFound)) throw e;
        }
      },
    };
    byKey.set(key, a);
    return a;
  }
}

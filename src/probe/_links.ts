/**
 * Pinned uprobe links, one per probed binary (device, inode) and offset: a
 * pinned link keeps the program attached without any process holding it,
 * so it survives a controller restart, and removing the pin detaches.
 *
 * @module
 */

import { closeFd, linkPerfEvent, objPin, openUprobe } from "../ffi/mod.ts";

/** One pinned uprobe on one executable file. */
export interface Attachment {
  /** The link's pin name: `<dev>_<ino>_<offset>`. */
  readonly key: string;
  /** Device of the probed file. */
  readonly dev: number;
  /** Inode of the probed file. */
  readonly ino: number;
  /** File offset of the probed instruction. */
  readonly offset: number;
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
      const m = /^(\d+)_(\d+)_(\d+)$/.exec(e.name);
      if (m) this.#add(e.name, Number(m[1]), Number(m[2]), Number(m[3]), null);
    }
  }

  /** Current attachments. */
  list(): Attachment[] {
    return [...this.#byKey.values()];
  }

  /** Attaches `progFd` to `path` at `offset` unless that file already is. */
  attach(progFd: number, path: string, offset: number): Attachment {
    let st: Deno.FileInfo;
    try {
      st = Deno.statSync(path);
    } catch (e) {
      const why = e instanceof Error ? e.message : String(e);
      throw new Error(`Cannot attach the probe to ${path}: ${why}.`);
    }
    const key = `${st.dev}_${st.ino}_${offset}`;
    const existing = this.#byKey.get(key);
    if (existing) return existing;
    const perfFd = openUprobe(path, offset);
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
    return this.#add(key, st.dev, st.ino ?? 0, offset, path);
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
    path: string | null,
  ): Attachment {
    const pin = `${this.#dir}/${key}`;
    const byKey = this.#byKey;
    const a: Attachment = {
      key,
      dev,
      ino,
      offset,
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

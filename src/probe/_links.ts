/**
 * Uprobe attachments, one per probed binary (device, inode) and offset, or
 * one per process of it when the probe is for given processes only.
 *
 * On kernels with BPF links for perf events (5.15+) each is a pinned link:
 * it keeps the program attached without any process holding it, so it
 * survives a controller restart, and removing the pin detaches. Older
 * kernels refuse that link; there the perf event itself holds the program
 * (PERF_EVENT_IOC_SET_BPF) and this process holds the perf event, so the
 * attachment ends with the controller, however it exits: the kernel then
 * removes the breakpoint, the traced program's SDK sees its probe point
 * unprobed and stops handing off, and the next controller attaches again.
 *
 * @module
 */

import {
  closeFd,
  linkPerfEvent,
  objPin,
  openUprobe,
  perfLinkMissing,
  setPerfEventProgram,
} from "../ffi/mod.ts";

/**
 * How attachments are held: "pinned" BPF links (5.15+) or perf events
 * "held" open by this process (older kernels).
 */
export type AttachMode = "pinned" | "held";

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
  /** Removes the link's pin (or closes the held perf event), which detaches the uprobe. Idempotent. */
  detach(): void;
}

/** The attachments of one instance, kept as pins in `<instance>/links`. */
export class Links {
  #dir: string;
  #byKey = new Map<string, Attachment>();
  #mode: AttachMode | undefined;

  /** Manages the links pinned in `dir`, adopting the ones already there. */
  constructor(dir: string) {
    this.#dir = dir;
    for (const e of Deno.readDirSync(dir)) {
      const m = /^(\d+)_(\d+)_(\d+)(?:_(\d+))?$/.exec(e.name);
      if (m) {
        const [dev, ino, offset] = [m[1], m[2], m[3]].map(Number);
        this.#add(e.name, dev, ino, offset, Number(m[4] ?? -1), null, -1);
        this.#mode = "pinned";
      }
    }
  }

  /**
   * How this kernel lets attachments be held: known after the first
   * attach (undefined before), "pinned" for adopted links.
   */
  get mode(): AttachMode | undefined {
    return this.#mode;
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
    const what = `${path} at offset 0x${offset.toString(16)}`;
    const perfFd = openUprobe(path, offset, pid);
    let heldFd = -1;
    try {
      if (this.#mode !== "held" && this.#pin(progFd, perfFd, key, what)) {
        return this.#add(key, st.dev, st.ino ?? 0, offset, pid, path, -1);
      }
      setPerfEventProgram(perfFd, progFd, what);
      heldFd = perfFd;
      return this.#add(key, st.dev, st.ino ?? 0, offset, pid, path, heldFd);
    } finally {
      // A pinned link holds the perf event itself.
      if (heldFd < 0) closeFd(perfFd);
    }
  }

  /**
   * Links `progFd` to `perfFd` and pins the link as `key`; false (and mode
   * "held" from then on) when the kernel has no BPF link for perf events.
   */
  #pin(progFd: number, perfFd: number, key: string, what: string): boolean {
    let linkFd: number;
    try {
      linkFd = linkPerfEvent(progFd, perfFd, what);
    } catch (e) {
      if (!perfLinkMissing(e)) throw e;
      this.#mode = "held";
      return false;
    }
    try {
      objPin(linkFd, `${this.#dir}/${key}`);
    } finally {
      // The pin holds the link.
      closeFd(linkFd);
    }
    this.#mode = "pinned";
    return true;
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
    heldFd: number,
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
        if (heldFd >= 0) return closeFd(heldFd);
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

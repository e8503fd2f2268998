/**
 * The probe: loads and pins the BPF program with bpftool (one pin directory
 * per controller instance), attaches it to Go binaries through pinned uprobe
 * links, configures it through pinned maps, reads its counters and hands out
 * its ring buffer reader. A controller that was killed leaves its pins
 * behind; the next one with the same instance name adopts them (same ring,
 * nothing buffered lost, same links) or removes them.
 *
 * Needs root (or CAP_BPF, CAP_PERFMON and CAP_SYS_ADMIN), bpffs, bpftool and
 * libbpf.so.1; Linux 5.8+ (6.16+ for exact-size records); Deno with
 * --allow-all (Deno refuses reads under /sys otherwise).
 *
 * @example
 * ```ts
 * const probe = await openProbe({ log });
 * probe.attach("/usr/local/bin/app", 0x4a1f20);
 * while (await probe.reader.wait(50)) probe.reader.drain((rec) => decode(rec));
 * probe.close();
 * ```
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { closeFd, objGet } from "../ffi/mod.ts";
import { openRing, type RingReader } from "../ring/mod.ts";
import { type Attachment, Links } from "./_links.ts";
import { type ProbeCounters, ProbeMaps } from "./_maps.ts";
import {
  digestOf,
  kindMaxRecord,
  pickKind,
  type ProbeKind,
  type ProbeObjects,
  readObject,
} from "./_objects.ts";
import { loadFirst, type ProbeObject, takeOrphans } from "./_instances.ts";
import {
  makePrivateDir,
  removeIfEmpty,
  removeInstance,
  requireBpffs,
} from "./_pins.ts";

export type { Attachment } from "./_links.ts";
export type { ProbeCounters } from "./_maps.ts";
export type { ProbeKind, ProbeObjects } from "./_objects.ts";
export type { RingReader } from "../ring/mod.ts";

/** Where instances are pinned unless told otherwise. */
export const defaultPinRoot = "/sys/fs/bpf/spanbridge";
/** Ring buffer size unless told otherwise: room for a 4 MiB record twice over. */
export const defaultRingBytes = 16 << 20;

/** Options of {@linkcode openProbe}. */
export interface ProbeOptions {
  /** Directory on bpffs holding instance directories. Default {@linkcode defaultPinRoot}. */
  pinRoot?: string;
  /**
   * Instance name (letters, digits, "-"); default "default". Only orphans
   * with the same name are adopted or removed, so controllers for different
   * targets should use different names.
   */
  name?: string;
  /**
   * Ring buffer bytes: a power of two, at least 64 KiB. Default
   * {@linkcode defaultRingBytes}. An adopted instance keeps its ring (and
   * its size), so nothing buffered is lost.
   */
  ringBytes?: number;
  /** Caps the largest payload recorded (bytes). Default: what the program and ring allow. */
  maxRecordBytes?: number;
  /** Wake the reader once this many bytes wait. Default min(1 MiB, ring / 4). */
  wakeBytes?: number;
  /** Forces a program instead of probing the kernel. */
  kind?: ProbeKind;
  /** BPF object bytes per kind for this machine (the standalone binary passes them). */
  objects?: ProbeObjects;
  /** Directory of `ended_<kind>.<arch>.o`; default build/bpf in the repository. */
  objectDir?: string;
  /** Adopt a dead controller's instance of the same name (default true); false removes it. */
  adopt?: boolean;
  /** Where to report loading, adoption and removal. */
  log?: Logger;
}

/** A loaded, pinned probe instance. */
export interface Probe {
  /** The program in use: exact-size "dynptr" records or size "classes". */
  readonly kind: ProbeKind;
  /** Largest payload the probe records; longer batches count as oversize. */
  readonly maxRecordBytes: number;
  /** Ring buffer size in bytes. */
  readonly ringBytes: number;
  /** This instance's pin directory. */
  readonly pinDir: string;
  /** True when the instance was adopted from a controller that died. */
  readonly adopted: boolean;
  /** The ring buffer reader (records: sb_record_header + payload). */
  readonly reader: RingReader;
  /**
   * Attaches the probe to the executable at `binaryPath`, at file offset
   * `fileOffset` of ended()'s body. Idempotent per file (device and inode)
   * and offset; a binary rebuilt in place is a new file and gets a new link.
   */
  attach(binaryPath: string, fileOffset: number): Attachment;
  /** The current attachments, including adopted ones. */
  attachments(): Attachment[];
  /** Records only these process ids (tgids); null records every process. */
  setPidFilter(tgids: number[] | null): void;
  /** Turns recording on or off (hits are counted either way). */
  setEnabled(enabled: boolean): void;
  /** The probe's counters, summed over CPUs. */
  counters(): ProbeCounters;
  /**
   * Stops reading, detaches and removes exactly this instance's pins, and
   * the pin root when no other instance is left in it. Idempotent.
   */
  close(): void;
}

/**
 * Loads (or adopts) a probe instance. See {@linkcode ProbeOptions}.
 * Throws a sentence naming the failing step and what to do.
 */
export async function openProbe(options: ProbeOptions = {}): Promise<Probe> {
  const log = options.log ?? silentLogger;
  const root = options.pinRoot ?? defaultPinRoot;
  const name = options.name ?? "default";
  const ringBytes = options.ringBytes ?? defaultRingBytes;
  if (!/^[A-Za-z0-9-]+$/.test(name)) {
    throw new Error(
      `Cannot open the probe: instance name "${name}" may only hold letters, digits and "-".`,
    );
  }
  if (
    ringBytes < 65536 || (ringBytes & (ringBytes - 1)) !== 0 ||
    ringBytes > 1 << 30
  ) {
    throw new Error(
      `Cannot open the probe: ring size ${ringBytes} must be a power of two from 64 KiB to 1 GiB.`,
    );
  }
  requireBpffs(root);
  makePrivateDir(root);

  const kinds: ProbeKind[] = options.kind
    ? [options.kind]
    : pickKind() === "dynptr"
    ? ["dynptr", "classes"]
    : ["classes"];
  const objects: ProbeObject[] = [];
  for (const kind of kinds) {
    const bytes = new Uint8Array(
      readObject(kind, options.objects, options.objectDir),
    );
    objects.push({ kind, bytes, digest: await digestOf(bytes) });
  }

  const adopted = takeOrphans(
    root,
    name,
    objects,
    options.adopt !== false,
    log,
  );
  if (adopted) {
    try {
      return openInstance(adopted.dir, adopted.kind, true, options, log);
    } catch (e) {
      // E.g. the dead controller was killed halfway through loading.
      removeInstance(adopted.dir);
      log.warn("cannot use the adopted probe instance; removed it", {
        dir: adopted.dir,
        error: (e as Error).message,
      });
    }
  }
  const loaded = await loadFirst(root, name, objects, ringBytes, log);
  try {
    return openInstance(loaded.dir, loaded.kind, false, options, log);
  } catch (e) {
    // E.g. libbpf.so.1 is missing: bpftool (static) loaded it, we cannot open it.
    removeInstance(loaded.dir);
    throw e;
  }
}

function openInstance(
  dir: string,
  kind: ProbeKind,
  adopted: boolean,
  options: ProbeOptions,
  log: Logger,
): Probe {
  const progFd = objGet(`${dir}/progs/ended_${kind}`);
  let maps: ProbeMaps | undefined;
  let reader: RingReader | undefined;
  try {
    maps = new ProbeMaps(`${dir}/maps`);
    reader = openRing(`${dir}/maps/rb`);
    const links = new Links(`${dir}/links`);
    const ringBytes = reader.size;
    const maxRecordBytes = Math.min(
      kindMaxRecord[kind],
      options.maxRecordBytes ?? Infinity,
      ringRecordLimit(kind, ringBytes),
    );
    const config = {
      enabled: true,
      maxRecord: maxRecordBytes,
      // An adopted instance keeps filtering until the controller says.
      pidFilter: adopted && maps.config().pidFilter,
      wakeBytes: options.wakeBytes ?? Math.min(1 << 20, ringBytes >>> 2),
    };
    maps.setConfig(config);
    if (links.list().length) {
      log.info("kept adopted attachments", {
        links: links.list().map((a) => a.key),
      });
    }
    let closed = false;
    const m = maps, r = reader;
    return {
      kind,
      maxRecordBytes,
      ringBytes,
      pinDir: dir,
      adopted,
      reader: r,
      attach: (path, offset) => {
        if (closed) {
          throw new Error(`Cannot attach to ${path}: the probe is closed.`);
        }
        const a = links.attach(progFd, path, offset);
        log.debug("attached", { path, offset, link: a.key });
        return a;
      },
      attachments: () => links.list(),
      setPidFilter: (tgids) => {
        // Fill the set before turning the filter on, so no traced pid is
        // dropped in between.
        if (tgids) m.setPids(tgids);
        m.setConfig({ ...m.config(), pidFilter: tgids !== null });
        if (!tgids) m.setPids([]);
      },
      setEnabled: (enabled) => m.setConfig({ ...m.config(), enabled }),
      counters: () => m.counters(),
      close: () => {
        if (closed) return;
        closed = true;
        r.close();
        links.detachAll();
        m.close();
        closeFd(progFd);
        removeInstance(dir);
        removeIfEmpty(dir.slice(0, dir.lastIndexOf("/"))); // the pin root
        log.info("removed the probe", { dir });
      },
    };
  } catch (e) {
    reader?.close();
    maps?.close();
    closeFd(progFd);
    throw e;
  }
}

/** Largest payload whose record fits in half the ring. */
function ringRecordLimit(kind: ProbeKind, ringBytes: number): number {
  const room = ringBytes / 2 - 32; // 24-byte record header, 8-byte ring header
  if (kind === "dynptr") return room;
  let cls = kindMaxRecord.classes;
  while (cls > room) cls /= 2;
  return cls;
}

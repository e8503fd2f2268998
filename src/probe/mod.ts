/**
 * The probe: loads and pins the BPF program with bpftool (one pin directory
 * per controller instance), attaches it to Go binaries through pinned uprobe
 * links, configures it through pinned maps, reads its counters and hands out
 * its ring buffer reader. It composes the folder's parts: a trusted pin root
 * (_pin_root.ts), one `Instance` per controller (_instance.ts:
 * the pin directory with its maps, links and ring reader) and the BPF
 * objects (_objects.ts). A controller that was killed leaves its pins
 * behind; the next one with the same instance name adopts them (same ring,
 * nothing buffered lost, same links) or removes them; a running one's name
 * is refused.
 *
 * Needs root (the pin root must be root's), bpffs, bpftool and libbpf.so.1;
 * Linux 5.8+ (6.16+ for exact-size records); Deno with --allow-all (Deno
 * refuses reads under /sys otherwise).
 *
 * @example
 * ```ts
 * const probe = await openProbe({}, log);
 * probe.attach("/usr/local/bin/app", 0x4a1f20);
 * while (!stopping) {
 *   await probe.reader.wait(50);
 *   probe.reader.drain((rec) => decode(rec));
 * }
 * probe.close();
 * ```
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { silentLogger } from "../log.ts";
import { UsageError } from "../errors.ts";
import { endedLayout } from "../wire/mod.ts";
import type { Attachment } from "./_links.ts";
import type { ProbeCounters } from "./_maps.ts";
import {
  digestOf,
  kindMaxRecord,
  type ProbeKind,
  type ProbeObjects,
  readObject,
} from "./_objects.ts";
import { chooseKind, kernelFeatures, requireFeatures } from "./_kernel.ts";
import type { AttachMode } from "./_links.ts";
import {
  Instance,
  listInstances,
  ownerAlive,
  type ProbeObject,
} from "./_instance.ts";
import { removePinRootIfEmpty, withPinRootLock } from "./_pin_root.ts";
import type { RingReader } from "./ring.ts";

export type { Attachment, AttachMode } from "./_links.ts";
export type { ProbeCounters } from "./_maps.ts";
export type { ProbeKind, ProbeObjects } from "./_objects.ts";
export type { RingReader } from "./ring.ts";
export * from "./exec_events.ts";

/** Where instances are pinned unless told otherwise. */
export const defaultPinRoot = "/sys/fs/bpf/spanbridge";

/** The instance name unless told otherwise (`--instance`). */
export const defaultInstanceName = "default";

/**
 * Ring buffer size unless told otherwise (`--ring-size`): 16 MiB holds
 * four of the largest records (4 MiB, and a record may take at most half
 * the ring). The reader maps the data pages once and the kernel fills the
 * mapping at once, so VmRSS counts the ring size from the start: an idle
 * `run --all` holds ~99 MiB with 16 MiB, ~115 MiB with 32 MiB. At 200k
 * spans/s offered for 20 s on the shared 2-core machine, 16 and 32 MiB
 * were both lossless in every run at load average 1.3-3 (4 of 4 each),
 * and both lost records in every run at load 5-10 (4 and 7 runs): the
 * larger ring bought nothing there. Before the export queue stopped
 * holding sent batches, 16 MiB lost records where 32 MiB did not.
 */
export const defaultRingBytes = 16 << 20;

/** The ring sizes accepted (a power of two in between). */
export const ringBytesBounds = { min: 64 << 10, max: 1 << 30 };

/**
 * Checks an instance name and ring size as {@linkcode openProbe} takes them
 * (the CLI calls this once, before anything starts; openProbe trusts its
 * options); returns a sentence naming the bad value, or undefined when both
 * are fine.
 */
export function validateProbeOptions(
  options: ProbeOptions,
): string | undefined {
  const { name, ringBytes } = options;
  if (name !== undefined && !/^[A-Za-z0-9-]{1,64}$/.test(name)) {
    return `Invalid instance name "${name}": use 1 to 64 letters, digits and "-".`;
  }
  const { min, max } = ringBytesBounds;
  if (
    ringBytes !== undefined &&
    (!Number.isInteger(ringBytes) || ringBytes < min || ringBytes > max ||
      (ringBytes & (ringBytes - 1)) !== 0)
  ) {
    return `Invalid ring size ${ringBytes}: expected a power of two from ${
      min >> 10
    } KiB to ${max >> 30} GiB, e.g. 32M.`;
  }
  return undefined;
}

/** Options of {@linkcode openProbe}. */
export interface ProbeOptions {
  /** Directory on bpffs holding instance directories. Default {@linkcode defaultPinRoot}. */
  pinRoot?: string;
  /**
   * Instance name (letters, digits, "-"); default
   * {@linkcode defaultInstanceName}. Only orphans
   * with the same name are adopted or removed, so controllers for different
   * targets should use different names; a name a running controller uses is
   * refused.
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
}

/** A loaded, pinned probe instance. */
export interface Probe {
  /** The program in use: exact-size "dynptr" records or size "classes". */
  readonly kind: ProbeKind;
  /** Largest payload the probe records; longer batches count as oversize. */
  readonly maxRecordBytes: number;
  /** Ring buffer size in bytes. */
  readonly ringBytes: number;
  /**
   * How attachments are held: "pinned" links that outlive the controller
   * (5.15+) or perf events "held" by it (older kernels); undefined until
   * the first attach.
   */
  readonly attachMode: AttachMode | undefined;
  /** This instance's pin directory. */
  readonly pinDir: string;
  /** The ring buffer reader (records: sb_record_header + payload). */
  readonly reader: RingReader;
  /**
   * Attaches the probe to the executable at `binaryPath`, at file offset
   * `fileOffset` of ended()'s body, for every process that runs it (`pid`
   * -1, the default) or for process `pid` alone: then the kernel puts the
   * breakpoint in that process only, and the others' SDK sees no probe.
   * Idempotent per file (device and inode), offset and pid; a binary
   * rebuilt in place is a new file and gets a new link.
   */
  attach(binaryPath: string, fileOffset: number, pid?: number): Attachment;
  /**
   * Detaches the links adopted from a dead controller that were not attached
   * again since the probe opened: a restart traces only what the new command
   * asks for. Returns how many were detached.
   */
  releaseUnclaimed(): number;
  /** Records only these process ids (tgids); null records every process. */
  setPidFilter(tgids: number[] | null): void;
  /** The probe's counters, summed over CPUs. */
  counters(): ProbeCounters;
  /**
   * Stops reading, detaches and removes exactly this instance's pins, and
   * the pin root when no other instance is left in it. Idempotent.
   */
  close(): void;
}

/**
 * Loads (or adopts) a probe instance, reporting loading, adoption and
 * removal to `log`. `options` are as {@linkcode validateProbeOptions}
 * accepts them: they were checked once, where they were read. Throws a
 * sentence naming the failing step and what to do: a
 * {@linkcode UsageError} for a name in use, an EnvironmentError for what the
 * machine lacks (privileges, bpffs, a trustworthy pin root, bpftool, kernel
 * support).
 */
export async function openProbe(
  options: ProbeOptions = {},
  log: Logger = silentLogger,
): Promise<Probe> {
  const root = options.pinRoot ?? defaultPinRoot;
  const name = options.name ?? defaultInstanceName;
  const ringBytes = options.ringBytes ?? defaultRingBytes;

  const features = kernelFeatures();
  requireFeatures(features);
  const choice = chooseKind(features, options.kind);
  const objects: ProbeObject[] = [];
  for (const kind of choice.kinds) {
    const bytes = new Uint8Array(
      readObject(kind, options.objects, options.objectDir),
    );
    objects.push({ kind, bytes, digest: await digestOf(bytes) });
  }

  const instance = await withPinRootLock(root, () => {
    const live = listInstances(root).find((i) =>
      i.id.name === name && ownerAlive(i.id)
    );
    if (live) {
      throw new UsageError(
        `Cannot start: instance "${name}" is in use by the running controller with pid ${live.id.pid} (${live.dir}). Stop it first, or pass another --instance.`,
      );
    }
    return Instance.adopt(root, name, objects, options.adopt !== false, log) ??
      Instance.load(root, name, objects, ringBytes, log);
  });
  log.info("probe program", {
    kind: instance.kind,
    why: instance.kind === choice.kinds[0]
      ? choice.why
      : `${choice.kinds[0]} was refused by this kernel (see the warning above)`,
    kernel: features.release,
  });
  try {
    return new PinnedProbe(instance, root, options, log);
  } catch (e) {
    instance.close();
    removePinRootIfEmpty(root);
    throw e;
  }
}

/** A {@linkcode Probe} over one configured {@linkcode Instance}. */
class PinnedProbe implements Probe {
  readonly kind: ProbeKind;
  readonly maxRecordBytes: number;
  readonly ringBytes: number;
  readonly pinDir: string;
  readonly reader: RingReader;
  readonly #instance: Instance;
  readonly #root: string;
  readonly #log: Logger;
  /** Links attached since the probe opened (the others were adopted). */
  readonly #claimed = new Set<string>();
  #closed = false;

  /** Configures `instance` (record limit, wake-up, filter) as `options` say. */
  constructor(
    instance: Instance,
    root: string,
    options: ProbeOptions,
    log: Logger,
  ) {
    const { maps, links, ring } = instance;
    this.kind = instance.kind;
    this.ringBytes = ring.size;
    this.maxRecordBytes = Math.min(
      kindMaxRecord[instance.kind],
      options.maxRecordBytes ?? Infinity,
      ringRecordLimit(instance.kind, this.ringBytes),
    );
    maps.setConfig({
      enabled: true,
      maxRecord: this.maxRecordBytes,
      // An adopted instance keeps filtering until the controller says.
      pidFilter: instance.adopted && maps.config().pidFilter,
      wakeBytes: options.wakeBytes ?? Math.min(1 << 20, this.ringBytes >>> 2),
    });
    if (links.list().length) {
      log.info("kept adopted attachments", {
        links: links.list().map((a) => a.key),
      });
    }
    this.pinDir = instance.dir;
    this.reader = ring;
    this.#instance = instance;
    this.#root = root;
    this.#log = log;
  }

  get attachMode(): AttachMode | undefined {
    return this.#instance.links.mode;
  }

  attach(binaryPath: string, fileOffset: number, pid = -1): Attachment {
    const before = this.attachMode;
    const a = this.#instance.attach(binaryPath, fileOffset, pid);
    if (before === undefined) {
      this.#log.info("uprobe attachments", {
        mode: this.attachMode,
        why: this.attachMode === "held"
          ? "the kernel has no BPF link for perf events (5.15+): attachments are held by this controller and end when it exits; a restarted controller attaches again"
          : "pinned BPF links: attachments outlive this controller, and a restarted one adopts them",
      });
    }
    this.#claimed.add(a.key);
    this.#log.debug("attached", {
      path: binaryPath,
      offset: fileOffset,
      link: a.key,
    });
    return a;
  }

  releaseUnclaimed(): number {
    const unclaimed = this.#instance.links.list().filter((a) =>
      !this.#claimed.has(a.key)
    );
    for (const a of unclaimed) {
      a.detach();
      this.#log.info(
        "detached an adopted attachment the command did not ask for",
        { link: a.key },
      );
    }
    return unclaimed.length;
  }

  setPidFilter(tgids: number[] | null): void {
    const maps = this.#instance.maps;
    // Fill the set before turning the filter on, so no traced pid is
    // dropped in between.
    if (tgids) maps.setPids(tgids);
    maps.setConfig({ ...maps.config(), pidFilter: tgids !== null });
    if (!tgids) maps.setPids([]);
  }

  counters(): ProbeCounters {
    return this.#instance.maps.counters();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#instance.close();
    removePinRootIfEmpty(this.#root);
    this.#log.info("removed the probe", { dir: this.pinDir });
  }
}

/** Largest payload whose record fits in half the ring. */
function ringRecordLimit(kind: ProbeKind, ringBytes: number): number {
  // The kernel puts an 8-byte header before each record.
  const room = ringBytes / 2 - endedLayout.recordHeader.size - 8;
  if (kind === "dynptr") return room;
  let cls = kindMaxRecord.classes;
  while (cls > room) cls /= 2;
  return cls;
}

/**
 * The probe's counter, config and pid-filter maps (layouts from
 * bpf/ended.h: struct sb_counters, struct sb_config).
 *
 * @module
 */

import {
  closeFd,
  mapDelete,
  mapKeys,
  mapLookup,
  mapUpdate,
  objGet,
  possibleCpus,
} from "../ffi/mod.ts";

/** The probe's counters summed over CPUs, since the probe was loaded. */
export interface ProbeCounters {
  /** Calls of ended() the probe saw. */
  hits: number;
  /** Calls dropped because recording was disabled or the pid not traced. */
  filtered: number;
  /** Records submitted to the ring. */
  submitted: number;
  /** Payload bytes in submitted records. */
  bytes: number;
  /** Batches dropped because the ring had no room. */
  ringFull: number;
  /** Batches dropped because reading the caller's memory failed. */
  readFaults: number;
  /** Batches dropped because they exceeded the maximum record size. */
  oversize: number;
}

const counterFields: (keyof ProbeCounters)[] = [
  "hits",
  "filtered",
  "submitted",
  "bytes",
  "ringFull",
  "readFaults",
  "oversize",
];
const COUNTERS_SIZE = 64; // struct sb_counters: 8 x u64 (the last is seq)

/** Probe settings (struct sb_config). */
export interface ProbeConfig {
  /** Record batches (false: only count hits). */
  enabled: boolean;
  /** Largest payload recorded, in bytes. */
  maxRecord: number;
  /** Record only the tgids in the pid map. */
  pidFilter: boolean;
  /** Wake the reader once this many bytes wait in the ring. */
  wakeBytes: number;
}

const zeroKey = new Uint8Array(4);

/** Open fds of one instance's control maps. */
export class ProbeMaps {
  #counters: number;
  #config: number;
  #pids: number;
  #cpus = possibleCpus();

  /** Opens the maps pinned in `mapsDir`. */
  constructor(mapsDir: string) {
    this.#counters = objGet(`${mapsDir}/sb_counters`);
    try {
      this.#config = objGet(`${mapsDir}/sb_config`);
      this.#pids = objGet(`${mapsDir}/sb_pids`);
    } catch (e) {
      this.close();
      throw e;
    }
  }

  /** Sums the per-CPU counters. */
  counters(): ProbeCounters {
    const values = new Uint8Array(COUNTERS_SIZE * this.#cpus);
    mapLookup(this.#counters, zeroKey, values);
    const v = new BigUint64Array(values.buffer);
    const sums = counterFields.map(() => 0n);
    for (let cpu = 0; cpu < this.#cpus; cpu++) {
      for (let i = 0; i < sums.length; i++) sums[i] += v[cpu * 8 + i];
    }
    return Object.fromEntries(
      counterFields.map((f, i) => [f, Number(sums[i])]),
    ) as unknown as ProbeCounters;
  }

  /** Reads the config. */
  config(): ProbeConfig {
    const value = new Uint8Array(16);
    mapLookup(this.#config, zeroKey, value);
    const v = new Uint32Array(value.buffer);
    return {
      enabled: v[0] !== 0,
      maxRecord: v[1],
      pidFilter: v[2] !== 0,
      wakeBytes: v[3],
    };
  }

  /** Writes the config; the probe uses it from its next hit on. */
  setConfig(c: ProbeConfig): void {
    const v = new Uint32Array([
      c.enabled ? 1 : 0,
      c.maxRecord,
      c.pidFilter ? 1 : 0,
      c.wakeBytes,
    ]);
    mapUpdate(this.#config, zeroKey, new Uint8Array(v.buffer));
  }

  /** Makes the pid map hold exactly `tgids`. */
  setPids(tgids: number[]): void {
    const want = new Set(tgids);
    for (const key of mapKeys(this.#pids, 4)) {
      const tgid = new DataView(key.buffer).getUint32(0, true);
      if (!want.has(tgid)) mapDelete(this.#pids, new Uint8Array(key));
      else want.delete(tgid);
    }
    const one = new Uint8Array([1]);
    for (const tgid of want) {
      mapUpdate(
        this.#pids,
        new Uint8Array(new Uint32Array([tgid]).buffer),
        one,
      );
    }
  }

  /** Closes the map fds. */
  close(): void {
    for (const fd of [this.#counters, this.#config, this.#pids]) {
      if (fd !== undefined) closeFd(fd);
    }
  }
}

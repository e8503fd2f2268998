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
import { endedLayout } from "../wire/mod.ts";

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

/** Where each counter sits in struct sb_counters (a u64 per CPU). */
const counterOffsets: Record<keyof ProbeCounters, number> = {
  hits: endedLayout.counters.offsets.hits,
  filtered: endedLayout.counters.offsets.filtered,
  submitted: endedLayout.counters.offsets.submitted,
  bytes: endedLayout.counters.offsets.bytes,
  ringFull: endedLayout.counters.offsets.ring_full,
  readFaults: endedLayout.counters.offsets.read_faults,
  oversize: endedLayout.counters.offsets.oversize,
};
const configLayout = endedLayout.config;

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
    const size = endedLayout.counters.size;
    const values = new Uint8Array(size * this.#cpus);
    mapLookup(this.#counters, zeroKey, values);
    const view = new DataView(values.buffer);
    const sum = (offset: number) => {
      let total = 0n;
      for (let cpu = 0; cpu < this.#cpus; cpu++) {
        total += view.getBigUint64(cpu * size + offset, true);
      }
      return Number(total);
    };
    const o = counterOffsets;
    return {
      hits: sum(o.hits),
      filtered: sum(o.filtered),
      submitted: sum(o.submitted),
      bytes: sum(o.bytes),
      ringFull: sum(o.ringFull),
      readFaults: sum(o.readFaults),
      oversize: sum(o.oversize),
    };
  }

  /** Reads the config. */
  config(): ProbeConfig {
    const value = new Uint8Array(configLayout.size);
    mapLookup(this.#config, zeroKey, value);
    const view = new DataView(value.buffer);
    const u32 = (offset: number) => view.getUint32(offset, true);
    return {
      enabled: u32(configLayout.offsets.enabled) !== 0,
      maxRecord: u32(configLayout.offsets.max_record),
      pidFilter: u32(configLayout.offsets.pid_filter) !== 0,
      wakeBytes: u32(configLayout.offsets.wake_bytes),
    };
  }

  /** Writes the config; the probe uses it from its next hit on. */
  setConfig(c: ProbeConfig): void {
    const value = new Uint8Array(configLayout.size);
    const view = new DataView(value.buffer);
    const o = configLayout.offsets;
    view.setUint32(o.enabled, c.enabled ? 1 : 0, true);
    view.setUint32(o.max_record, c.maxRecord, true);
    view.setUint32(o.pid_filter, c.pidFilter ? 1 : 0, true);
    view.setUint32(o.wake_bytes, c.wakeBytes, true);
    mapUpdate(this.#config, zeroKey, value);
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

/**
 * The only place with Deno.dlopen and pointers: typed wrappers over
 * libbpf.so.1 and libc for pinned BPF objects, map elements, uprobe perf
 * events and ring buffer memory.
 *
 * @module
 */

export { errnoCategory, errnoText, SysError } from "./errors.ts";
export {
  closeFd,
  hasRingBuffer,
  linkPerfEvent,
  mapDelete,
  type MapInfo,
  mapInfo,
  mapKeys,
  mapLookup,
  mapUpdate,
  objGet,
  objPin,
  perfLinkMissing,
  possibleCpus,
  progTestRun,
} from "./bpf.ts";
export { pinToCurrentCpu } from "./affinity.ts";
export { BPF_FS_MAGIC, fsType } from "./statfs.ts";
export {
  type BpfObject,
  loadBpfObject,
  type LoadBpfObjectOptions,
} from "./object.ts";
export {
  openUprobe,
  readUprobeType,
  setPerfEventProgram,
  uprobePmuPath,
  uprobeType,
} from "./perf.ts";
export { uprobeSpOffset, UprobeTestRun } from "./test_run.ts";
export { mapRing, type RingMemory, RingPoller } from "./ring_mem.ts";

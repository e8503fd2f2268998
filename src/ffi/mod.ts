/**
 * The only place with Deno.dlopen and pointers: typed wrappers over
 * libbpf.so.1 and libc for pinned BPF objects, map elements, uprobe perf
 * events and ring buffer memory.
 *
 * @module
 */

export { errnoText, SysError } from "./errors.ts";
export { EnvironmentError } from "./environment_error.ts";
export {
  closeFd,
  linkPerfEvent,
  mapDelete,
  type MapInfo,
  mapInfo,
  mapKeys,
  mapLookup,
  mapUpdate,
  objGet,
  objPin,
  possibleCpus,
  progTestRun,
} from "./bpf.ts";
export { pinToCurrentCpu } from "./affinity.ts";
export { type BpfObject, loadBpfObject } from "./object.ts";
export { openUprobe, readUprobeType, uprobeType } from "./perf.ts";
export { mapRing, type RingMemory, RingPoller } from "./ring_mem.ts";

/**
 * The one TypeScript layout of each C header the probes and the controller
 * share: bpf/ended.h (`endedLayout`: ring records, the SDK's batch header,
 * counters, config, limits) and bpf/exec.h (`execLayout`: exec events and
 * binary identities). Each is checked against its header by a contract test
 * beside it; this folder knows nothing else.
 *
 * @module
 */

export type { StructLayout } from "./_layout.ts";
export * as endedLayout from "./ended_h.ts";
export * as execLayout from "./exec_h.ts";

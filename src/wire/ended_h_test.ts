// The contract between bpf/ended.h and the TypeScript side: every struct and
// every limit, read from the C header itself.
import { deepStrictEqual as assertEquals } from "node:assert/strict";
import {
  BATCH_MAGIC,
  BATCH_VERSION,
  batchHeader,
  CLASS_MIN,
  config,
  counters,
  MAX_RECORD_CLASSES,
  MAX_RECORD_DYNPTR,
  RECORD_MAGIC,
  recordHeader,
  SIGNAL_LOGS,
  SIGNAL_TRACES,
} from "./ended_h.ts";
import { CHeader, plain } from "../../testing/c_header.ts";

const header = CHeader.read("bpf/ended.h");
const define = (name: string) => header.define(name);

Deno.test("the limits match the #defines of bpf/ended.h", () => {
  assertEquals(
    [RECORD_MAGIC, MAX_RECORD_CLASSES, MAX_RECORD_DYNPTR, CLASS_MIN],
    [
      define("SB_RECORD_MAGIC"),
      define("SB_MAX_RECORD_CLASSES"),
      define("SB_MAX_RECORD_DYNPTR"),
      define("SB_CLASS_MIN"),
    ],
  );
});

Deno.test("the batch header's #defines match bpf/ended.h", () => {
  assertEquals(
    [BATCH_MAGIC, BATCH_VERSION, SIGNAL_TRACES, SIGNAL_LOGS],
    [
      define("SB_BATCH_MAGIC"),
      define("SB_BATCH_VERSION"),
      define("SB_SIGNAL_TRACES"),
      define("SB_SIGNAL_LOGS"),
    ],
  );
});

Deno.test("struct sb_batch_header matches bpf/ended.h", () => {
  assertEquals(plain(batchHeader), header.layout("sb_batch_header"));
});

Deno.test("struct sb_record_header matches bpf/ended.h", () => {
  assertEquals(plain(recordHeader), header.layout("sb_record_header"));
});

Deno.test("struct sb_counters matches bpf/ended.h", () => {
  assertEquals(plain(counters), header.layout("sb_counters"));
});

Deno.test("struct sb_config matches bpf/ended.h", () => {
  assertEquals(plain(config), header.layout("sb_config"));
});

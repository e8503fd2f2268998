/**
 * Ring record framing and OTLP decoding: {@linkcode Decoder} turns records
 * described by bpf/ended.h into validated {@linkcode OtlpBatch}es, counting
 * bad ones.
 *
 * @module
 */

export * from "./header.ts";
export * from "./decoder.ts";

/**
 * Ring record framing and OTLP decoding: {@linkcode RecordDecoder} turns
 * records described by bpf/ended.h into `TracesData`, counting bad ones.
 *
 * @module
 */

export * from "./header.ts";
export * from "./decoder.ts";

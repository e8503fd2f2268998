/**
 * OTLP trace messages as they travel through spanbridge: validated
 * pass-through batches ({@linkcode OtlpBatch}), the pool their bytes and
 * request bodies are reused from ({@linkcode BufferPool}), the OTLP/JSON
 * codec and attribute text. Decode builds batches, export sends them,
 * receive reads them; this folder is the one place all three share.
 *
 * @module
 */

export * from "./attributes.ts";
export * from "./batch.ts";
export * from "./buffer_pool.ts";
export * from "./json.ts";
export * from "./sample.ts";

/**
 * An OTLP/HTTP trace receiver that can print what it gets as trees:
 * {@linkcode startReceiver} and {@linkcode formatTraces}.
 *
 * @module
 */

export * from "./receiver.ts";
export * from "./tree.ts";

/**
 * Small constructors and readers for OTLP attributes (KeyValue/AnyValue).
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import {
  type AnyValue,
  type KeyValue,
  KeyValueSchema,
} from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";

/** A plain value that maps onto one AnyValue kind. */
export type PlainValue = string | boolean | bigint | number | string[];

/**
 * Builds an attribute. Numbers become doubles unless they are safe integers
 * (then int64); bigints are int64; string arrays become an ArrayValue.
 */
export function keyValue(key: string, value: PlainValue): KeyValue {
  return create(KeyValueSchema, { key, value: anyValue(value) });
}

function anyValue(value: PlainValue): AnyValue {
  const kind = typeof value;
  if (kind === "string") {
    return {
      value: { case: "stringValue", value: value as string },
    } as AnyValue;
  }
  if (kind === "boolean") {
    return {
      value: { case: "boolValue", value: value as boolean },
    } as AnyValue;
  }
  if (kind === "bigint") {
    return { value: { case: "intValue", value: value as bigint } } as AnyValue;
  }
  if (kind === "number") {
    const n = value as number;
    return (Number.isSafeInteger(n)
      ? { value: { case: "intValue", value: BigInt(n) } }
      : { value: { case: "doubleValue", value: n } }) as AnyValue;
  }
  const values = (value as string[]).map((s) => ({
    value: { case: "stringValue", value: s },
  }));
  return { value: { case: "arrayValue", value: { values } } } as AnyValue;
}

/** The string value of attribute `key`, or undefined when absent or not a string. */
export function stringAttribute(
  attributes: readonly KeyValue[],
  key: string,
): string | undefined {
  const v = attributes.find((kv) => kv.key === key)?.value?.value;
  return v?.case === "stringValue" ? v.value : undefined;
}

/** Renders an AnyValue for people: strings as-is, bytes as hex, lists in brackets. */
export function formatAnyValue(value: AnyValue | undefined): string {
  const v = value?.value;
  if (v?.case === undefined) return "";
  switch (v.case) {
    case "stringValue":
      return v.value;
    case "bytesValue":
      return `0x${hex(v.value)}`;
    case "arrayValue":
      return `[${v.value.values.map(formatAnyValue).join(", ")}]`;
    case "kvlistValue":
      return `{${
        v.value.values.map((kv) => `${kv.key}=${formatAnyValue(kv.value)}`)
          .join(", ")
      }}`;
    default:
      return String(v.value);
  }
}

const hexDigits = Array.from(
  { length: 256 },
  (_, i) => i.toString(16).padStart(2, "0"),
);

/** Lowercase hex of `bytes`, as OTLP/JSON writes trace and span ids. */
export function hex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += hexDigits[b];
  return s;
}

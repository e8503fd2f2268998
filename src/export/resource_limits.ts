/**
 * The bound on one merged resource. OpenTelemetry exempts resources from
 * attribute limits, as a program's own resource is small and trusted; the
 * agent's are neither: it merges a process's whole command line (Linux
 * allows 2 MiB, 128 KiB per argument) and whatever a program on the node
 * sent, and a resource travels in every export request with its spans. A
 * 1.4 MB command line made requests the Collector refused (413) together
 * with other processes' spans, and thrashed the resource cache until the
 * agent held gigabytes. So every merged resource is cut to size here:
 *
 * 1. strings longer than {@linkcode maxResourceValueChars} characters, and
 *    each such string of an array, are truncated to it (OpenTelemetry's
 *    attribute value length rule);
 * 2. while the encoded resource is still over {@linkcode maxResourceBytes},
 *    its largest attribute is removed (never service.name), and counted in
 *    the resource's dropped_attributes_count, as OTLP asks.
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import {
  type AnyValue,
  KeyValueSchema,
} from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import { lengthDelimitedSize } from "../otlp/mod.ts";

/**
 * Characters of a string attribute value at most. Long enough for any path,
 * URL or image name; a longer value is a payload, not a description.
 */
export const maxResourceValueChars = 4096;

/**
 * Encoded bytes of one merged resource at most: sixteen values at their
 * longest. Hundreds of processes' resources then fit in one request far
 * below the Collector's 20 MiB body limit, and in the 8 MiB resource cache.
 */
export const maxResourceBytes = 64 << 10;

/**
 * `resource` within the bounds of the module doc: the same object when it
 * is within them already, else a copy with values truncated and the largest
 * attributes removed.
 */
export function limitResource(resource: Resource): Resource {
  let changed = false;
  const attributes = resource.attributes.map((kv) => {
    const value = truncated(kv.value);
    if (value === kv.value) return kv;
    changed = true;
    return create(KeyValueSchema, { key: kv.key, value });
  });
  const sizes = attributes.map((kv) =>
    lengthDelimitedSize(toBinary(KeyValueSchema, kv).length)
  );
  // Room for dropped_attributes_count (a tag and a varint of at most 5 bytes).
  let total = sizes.reduce((n, size) => n + size, 6);
  const removed = new Set<number>();
  while (total > maxResourceBytes) {
    let largest = -1;
    sizes.forEach((size, i) => {
      if (
        !removed.has(i) && attributes[i].key !== "service.name" &&
        (largest < 0 || size > sizes[largest])
      ) largest = i;
    });
    // Only service.name is left: at most 4096 characters, so it fits.
    if (largest < 0) break;
    removed.add(largest);
    total -= sizes[largest];
  }
  if (!changed && removed.size === 0) return resource;
  return create(ResourceSchema, {
    attributes: attributes.filter((_, i) => !removed.has(i)),
    droppedAttributesCount: resource.droppedAttributesCount + removed.size,
  });
}

/** `value` with its strings truncated; the same object when none was too long. */
function truncated(value: AnyValue | undefined): AnyValue | undefined {
  const v = value?.value;
  if (v?.case === "stringValue" && v.value.length > maxResourceValueChars) {
    return {
      ...value!,
      value: { case: "stringValue", value: truncate(v.value) },
    };
  }
  if (v?.case === "arrayValue") {
    const values = v.value.values.map((item) => {
      const s = item.value;
      return s.case === "stringValue" && s.value.length > maxResourceValueChars
        ? {
          ...item,
          value: { case: "stringValue" as const, value: truncate(s.value) },
        }
        : item;
    });
    if (values.some((item, i) => item !== v.value.values[i])) {
      return {
        ...value!,
        value: { case: "arrayValue", value: { ...v.value, values } },
      };
    }
  }
  return value;
}

/**
 * The first maxResourceValueChars characters (code points, so a surrogate
 * pair is never split) of `s`, which is longer than that in UTF-16 units.
 */
function truncate(s: string): string {
  // Twice as many UTF-16 units hold at least that many code points.
  return Array.from(s.slice(0, 2 * maxResourceValueChars))
    .slice(0, maxResourceValueChars).join("");
}

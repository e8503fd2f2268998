import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { create, toBinary } from "@bufbuild/protobuf";
import { ResourceSchema } from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import { decodeResource, encodeResource, keyValue } from "../otlp/mod.ts";
import { defaultBatchOptions } from "./config.ts";
import {
  type ProcessMeta,
  readResourceEnv,
  ResourceCache,
} from "./resource.ts";
import {
  limitResource,
  maxResourceBytes,
  maxResourceValueChars,
} from "./resource_limits.ts";

const host = { name: "box", arch: "amd64" };

/** A command line of ~1.4 MB in 10,000 arguments of 140 characters. */
const hugeCmdline = [
  "/srv/bin/shop",
  ...Array.from({ length: 10_000 }, (_, i) => `${i}`.padStart(140, "-")),
];

Deno.test("limitResource truncates long strings, also in arrays, to maxResourceValueChars characters", () => {
  // A surrogate pair straddles the limit: it must be kept whole or left out.
  const long = "x".repeat(maxResourceValueChars - 1) + "😀" + "y".repeat(9000);
  const limited = limitResource(create(ResourceSchema, {
    attributes: [
      keyValue("service.name", long),
      keyValue("note", long),
      keyValue("args", ["short", long]),
      keyValue("pid", 7),
    ],
  }));
  const [name, note, args, pid] = limited.attributes.map((kv) =>
    kv.value!.value
  );
  const cut = "x".repeat(maxResourceValueChars - 1) + "😀";
  deepStrictEqual([name.value, note.value], [cut, cut]);
  deepStrictEqual(
    args.case === "arrayValue" && args.value.values.map((v) => v.value.value),
    ["short", cut],
  );
  strictEqual(pid.value, 7n);
  strictEqual(limited.droppedAttributesCount, 0);
});

Deno.test("limitResource removes the largest attributes until the resource fits, counting them", () => {
  const sent = create(ResourceSchema, {
    attributes: [
      keyValue("service.name", "shop"),
      keyValue("process.command_args", hugeCmdline),
      keyValue("blob.a", "a".repeat(4000)),
      keyValue("process.pid", 4242),
    ],
    droppedAttributesCount: 2,
  });
  const limited = limitResource(sent);
  ok(toBinary(ResourceSchema, limited).length <= maxResourceBytes);
  deepStrictEqual(
    limited.attributes.map((kv) => kv.key),
    ["service.name", "blob.a", "process.pid"],
  );
  strictEqual(limited.droppedAttributesCount, 3);
  const small = create(ResourceSchema, {
    attributes: [keyValue("service.name", "shop")],
  });
  strictEqual(limitResource(small), small, "within bounds: untouched");
});

Deno.test("ResourceCache holds fifteen processes with 1.4 MB command lines within its default bound", () => {
  const maxBytes = defaultBatchOptions.maxResourceCacheBytes;
  const cache = new ResourceCache(readResourceEnv({}), host, maxBytes);
  const sent = encodeResource(create(ResourceSchema, {
    attributes: [keyValue("service.name", "shop")],
  }));
  for (let round = 0; round < 3; round++) {
    for (let pid = 1; pid <= 15; pid++) {
      const meta: ProcessMeta = { pid, cmdline: hugeCmdline };
      const merged = cache.resolve(sent, meta);
      ok(merged.bytes.length <= maxResourceBytes, `${merged.bytes.length}`);
      strictEqual(
        decodeResource(merged).attributes[0].value?.value.value,
        "shop",
      );
    }
  }
  ok(cache.bytes <= maxBytes, `${cache.bytes} bytes`);
  strictEqual(cache.evictions, 0, "merged once per process, not per record");
});

Deno.test("ResourceCache keeps no entry larger than its bound", () => {
  const cache = new ResourceCache(readResourceEnv({}), host, 1 << 20);
  // A crafted record's resource of 2 MiB: its key alone is over the bound.
  const sent = encodeResource(create(ResourceSchema, {
    attributes: Array.from(
      { length: 512 },
      (_, i) => keyValue(`blob.${i}`, "b".repeat(4000)),
    ),
  }));
  const merged = cache.resolve(sent, { pid: 1 });
  ok(merged.bytes.length <= maxResourceBytes);
  ok(cache.bytes <= 1 << 20, `${cache.bytes} bytes`);
  strictEqual(cache.resolve(sent, { pid: 1 }).key, merged.key);
});

import {
  deepStrictEqual,
  notStrictEqual,
  ok,
  strictEqual,
  throws,
} from "node:assert/strict";
import { create } from "@bufbuild/protobuf";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import {
  decodeResource,
  encodeResource,
  formatAnyValue,
  keyValue,
} from "../otlp/mod.ts";
import {
  detectHost,
  isPlaceAttribute,
  mergeResource,
  parseResourceAttributes,
  type ProcessMeta,
  readResourceEnv,
  ResourceCache,
} from "./resource.ts";
import { version } from "../version.ts";

const host = { name: "box", arch: "amd64" };
const meta: ProcessMeta = {
  pid: 4242,
  exePath: "/srv/bin/shop",
  exeName: "shop",
  cmdline: ["/srv/bin/shop", "-port", "8080"],
  goVersion: "go1.26.8",
  buildSettings: { GOOS: "linux", GOARCH: "amd64" },
};

function flat(
  resource: { attributes: { key: string; value?: unknown }[] },
): Record<string, string> {
  return Object.fromEntries(
    resource.attributes.map((
      kv,
    ) => [kv.key, formatAnyValue(kv.value as never)]),
  );
}

Deno.test("parseResourceAttributes trims, percent-decodes and skips empty items", () => {
  deepStrictEqual(
    parseResourceAttributes(" a = 1 ,b=x%2Cy%3Dz, ,c=caf%C3%A9,d="),
    [
      ["a", "1"],
      ["b", "x,y=z"],
      ["c", "café"],
      ["d", ""],
    ],
  );
  deepStrictEqual(parseResourceAttributes(""), []);
});

Deno.test("parseResourceAttributes rejects malformed input with the bad item named", () => {
  throws(
    () => parseResourceAttributes("a=1,novalue"),
    /item "novalue" has no "="/,
  );
  throws(() => parseResourceAttributes("=1"), /item "=1" has an empty key/);
  throws(
    () => parseResourceAttributes("a=%E0%A4%A"),
    /item "a=%E0%A4%A" has a malformed percent-encoding/,
  );
});

Deno.test("mergeResource adds process, runtime, distro and host attributes", () => {
  const r = mergeResource(undefined, meta, readResourceEnv({}), host);
  deepStrictEqual(flat(r), {
    "service.name": "shop",
    "process.pid": "4242",
    "process.executable.name": "shop",
    "process.executable.path": "/srv/bin/shop",
    "process.command_args": "[/srv/bin/shop, -port, 8080]",
    "process.runtime.name": "go",
    "process.runtime.version": "go1.26.8",
    "process.runtime.description": "go version go1.26.8 linux/amd64",
    "telemetry.distro.name": "spanbridge",
    "telemetry.distro.version": version,
    "host.name": "box",
    "host.arch": "amd64",
  });
  strictEqual(r.attributes[1].value?.value.case, "intValue");
  strictEqual(r.attributes[4].value?.value.case, "arrayValue");
});

Deno.test("mergeResource precedence: environment > controller > SDK, telemetry.sdk from the SDK", () => {
  const sent = create(ResourceSchema, {
    attributes: [
      keyValue("service.name", "checkout"),
      keyValue("service.version", "1.2.3"),
      keyValue("telemetry.sdk.name", "spanbridge-go"),
      keyValue("telemetry.sdk.language", "go"),
      keyValue("process.pid", 1),
      keyValue("deployment.environment.name", "dev"),
    ],
    droppedAttributesCount: 2,
  });
  const env = readResourceEnv({
    OTEL_RESOURCE_ATTRIBUTES:
      "deployment.environment.name=prod,host.name=edge-1",
  });
  const r = mergeResource(sent, meta, env, host);
  const got = flat(r);
  strictEqual(got["service.name"], "checkout"); // the SDK's, not the default
  strictEqual(got["service.version"], "1.2.3");
  strictEqual(got["telemetry.sdk.name"], "spanbridge-go");
  strictEqual(got["process.pid"], "4242"); // controller over SDK
  strictEqual(got["deployment.environment.name"], "prod"); // environment over SDK
  strictEqual(got["host.name"], "edge-1"); // environment over controller
  strictEqual(r.droppedAttributesCount, 2);
  strictEqual(r.attributes.filter((kv) => kv.key === "service.name").length, 1);
});

Deno.test("mergeResource picks service.name from env, then SDK unless default, then executable", () => {
  const sdk = (name: string) =>
    create(ResourceSchema, { attributes: [keyValue("service.name", name)] });
  const name = (
    sent: ReturnType<typeof sdk> | undefined,
    env: Record<string, string>,
    m = meta,
  ) => flat(mergeResource(sent, m, readResourceEnv(env), host))["service.name"];
  strictEqual(
    name(sdk("checkout"), {
      OTEL_SERVICE_NAME: "a",
      OTEL_RESOURCE_ATTRIBUTES: "service.name=b",
    }),
    "a",
  );
  strictEqual(
    name(sdk("checkout"), { OTEL_RESOURCE_ATTRIBUTES: "service.name=b" }),
    "b",
  );
  strictEqual(name(sdk("checkout"), {}), "checkout");
  strictEqual(name(sdk("unknown_service:shop"), {}), "shop");
  strictEqual(name(undefined, {}, { pid: 1, exePath: "/usr/bin/api" }), "api");
  strictEqual(name(undefined, {}, { pid: 1 }), "unknown_service:go");
});

Deno.test("ResourceCache keys merged resources by process key and SDK resource key, not by object", () => {
  const cache = new ResourceCache(readResourceEnv({}), host, 1 << 20);
  const sent = () =>
    encodeResource(create(ResourceSchema, {
      attributes: [keyValue("service.name", "checkout")],
    }));
  const a = cache.resolve(sent(), meta);
  strictEqual(cache.resolve(sent(), { ...meta }), a, "same keys, new objects");
  deepStrictEqual(a, encodeResource(decodeResource(a)), "bytes and key agree");
  notStrictEqual(cache.resolve(undefined, meta).key, a.key);
  const other = cache.resolve(sent(), { ...meta, key: "2@5", pid: 2 });
  notStrictEqual(other.key, a.key);
  strictEqual(cache.resolve(sent(), meta), a, "interleaved processes");
});

Deno.test("ResourceCache stays within its byte bound with many distinct resources", () => {
  const cache = new ResourceCache(readResourceEnv({}), host, 1 << 20);
  for (let i = 0; i < 5000; i++) {
    const sent = encodeResource(create(ResourceSchema, {
      attributes: [keyValue("request.id", `${i}`.padStart(200, "x"))],
    }));
    const merged = cache.resolve(sent, meta);
    strictEqual(
      flat(decodeResource(merged))["request.id"],
      `${i}`.padStart(200, "x"),
    );
    ok(cache.bytes <= 1 << 20, `${cache.bytes} bytes after ${i}`);
  }
  ok(cache.evictions > 0);
});

Deno.test("mergeResource names an exited process's service after the SDK's process.executable.name", () => {
  // /proc could not be read: the controller knows the pid alone.
  const sent = create(ResourceSchema, {
    attributes: [
      keyValue("service.name", "unknown_service:shop"),
      keyValue("process.executable.name", "shop"),
    ],
  });
  const gone = flat(mergeResource(sent, { pid: 9 }, readResourceEnv({}), host));
  const live = flat(mergeResource(sent, meta, readResourceEnv({}), host));
  strictEqual(gone["service.name"], "shop");
  strictEqual(
    gone["service.name"],
    live["service.name"],
    "one program, one service",
  );
  strictEqual(gone["process.executable.name"], "shop");
});

Deno.test("mergeResource takes service.version from the main module only when unset", () => {
  const withModule = (version: string): ProcessMeta => ({
    ...meta,
    mainModule: { path: "example.com/shop", version },
  });
  const v = (
    m: ProcessMeta,
    env: Record<string, string> = {},
    sent?: Resource,
  ) =>
    flat(mergeResource(sent, m, readResourceEnv(env), host))["service.version"];
  strictEqual(v(withModule("v1.4.0")), "v1.4.0");
  strictEqual(v(withModule("(devel)")), undefined);
  strictEqual(
    v(withModule("v1.4.0"), { OTEL_RESOURCE_ATTRIBUTES: "service.version=2" }),
    "2",
  );
  const sent = create(ResourceSchema, {
    attributes: [keyValue("service.version", "3")],
  });
  strictEqual(v(withModule("v1.4.0"), {}, sent), "3");
});

Deno.test("mergeResource adds container.id and k8s.pod.uid; K8S_NODE_NAME names the host and the node", () => {
  const inPod: ProcessMeta = {
    ...meta,
    containerId: "ab".repeat(32),
    podUid: "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
  };
  const node = detectHost(
    readResourceEnv({ K8S_NODE_NAME: " node-7 " }).k8sNodeName,
  );
  deepStrictEqual([node.name, node.k8sNodeName], ["node-7", "node-7"]);
  const got = flat(mergeResource(undefined, inPod, readResourceEnv({}), node));
  strictEqual(got["container.id"], "ab".repeat(32));
  strictEqual(got["k8s.pod.uid"], "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b");
  strictEqual(got["host.name"], "node-7");
  strictEqual(got["k8s.node.name"], "node-7");
  const plain = flat(mergeResource(undefined, meta, readResourceEnv({}), host));
  deepStrictEqual(
    ["container.id", "k8s.pod.uid", "k8s.node.name"].filter((k) => k in plain),
    [],
  );
  strictEqual(
    detectHost(readResourceEnv({}).k8sNodeName).k8sNodeName,
    undefined,
  );
});

/** What a program on the host sent when it claimed another pod's identity (issue 20, item 6). */
const claims = create(ResourceSchema, {
  attributes: [
    keyValue("service.name", "payments"),
    keyValue("container.id", "cd".repeat(32)),
    keyValue("container.image.name", "registry/payments"),
    keyValue("k8s.pod.uid", "99999999-9999-4999-9999-999999999999"),
    keyValue("k8s.namespace.name", "prod"),
    keyValue("k8s.pod.name", "payments-7d9f"),
    keyValue("k8s.deployment.name", "payments"),
    keyValue("k8s.node.name", "other-node"),
    keyValue("host.name", "other-host"),
    keyValue("host.id", "forged"),
    keyValue("process.pid", 1),
    keyValue("deployment.environment.name", "prod"),
  ],
});

Deno.test("mergeResource removes a host process's claims of container, pod, namespace, node and host", () => {
  const got = flat(mergeResource(claims, meta, readResourceEnv({}), host));
  deepStrictEqual(
    Object.keys(got).filter((k) =>
      /^(container|k8s|host)\./.test(k) || k === "process.pid"
    ).sort(),
    ["host.arch", "host.name", "process.pid"],
  );
  strictEqual(got["host.name"], "box");
  strictEqual(got["process.pid"], "4242");
  // What does not say where it runs stays the program's.
  strictEqual(got["service.name"], "payments");
  strictEqual(got["deployment.environment.name"], "prod");
});

Deno.test("mergeResource keeps the kernel's container.id and k8s.pod.uid and the agent's node over a pod's claims", () => {
  const inPod: ProcessMeta = {
    ...meta,
    containerId: "ab".repeat(32),
    podUid: "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b",
  };
  const node = detectHost("node-7");
  const got = flat(mergeResource(claims, inPod, readResourceEnv({}), node));
  deepStrictEqual(
    Object.keys(got).filter((k) => /^(container|k8s|host)\./.test(k)).sort(),
    ["container.id", "host.arch", "host.name", "k8s.node.name", "k8s.pod.uid"],
  );
  strictEqual(got["container.id"], "ab".repeat(32));
  strictEqual(got["k8s.pod.uid"], "1b2c3d4e-5f60-4718-9a0b-1c2d3e4f5a6b");
  strictEqual(got["k8s.node.name"], "node-7");
  strictEqual(got["host.name"], "node-7");
});

Deno.test("mergeResource lets the agent's own OTEL_RESOURCE_ATTRIBUTES set k8s.* (the operator's word, not a program's)", () => {
  const env = readResourceEnv({
    OTEL_RESOURCE_ATTRIBUTES: "k8s.cluster.name=east",
  });
  const got = flat(mergeResource(claims, meta, env, host));
  strictEqual(got["k8s.cluster.name"], "east");
  strictEqual(got["k8s.namespace.name"], undefined);
});

Deno.test("isPlaceAttribute names process.pid, host.*, container.* and k8s.*, nothing else", () => {
  for (
    const key of ["process.pid", "host.name", "container.id", "k8s.pod.name"]
  ) ok(isPlaceAttribute(key), key);
  for (
    const key of [
      "process.executable.name",
      "service.name",
      "k8s",
      "hostname",
      "containers.x",
    ]
  ) ok(!isPlaceAttribute(key), key);
});

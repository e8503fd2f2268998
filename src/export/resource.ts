/**
 * The resource of a traced process: what the SDK sent, merged with what the
 * controller knows about the process and what the user set in the
 * environment.
 *
 * Precedence, highest first, as OpenTelemetry Go auto-instrumentation does
 * (the user's environment overrides detection, and the controller, which sees
 * the process from outside, is trusted for process facts over the SDK):
 *
 * 1. OTEL_SERVICE_NAME (service.name only), then OTEL_RESOURCE_ATTRIBUTES;
 * 2. attributes detected by the controller: process.*, host.*,
 *    telemetry.distro.*;
 * 3. attributes the SDK sent (telemetry.sdk.* always come from here).
 *
 * Where a process runs is never taken from the process: what it sends under
 * process.pid, host.*, container.* and k8s.* is removed (see
 * {@linkcode isPlaceAttribute}). process.pid, host.*, container.id and
 * k8s.pod.uid come from the kernel, k8s.node.name from the agent's own
 * configuration, and the gateway's k8sattributes sets the other k8s.* from
 * the API server (it never overwrites an attribute already set); a process
 * on the host therefore carries no container.id, whatever it claims.
 *
 * service.name falls back from the environment to the SDK's value unless it
 * is the SDK default "unknown_service…", then to the executable name.
 * service.version, when nobody set it, is the main module's version from the
 * build info (unless that is "(devel)").
 *
 * @module
 */

import { create } from "@bufbuild/protobuf";
import type { KeyValue } from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import { version } from "../version.ts";
import {
  decodeResource,
  type EncodedResource,
  encodeResource,
  keyValue,
  stringAttribute,
} from "../otlp/mod.ts";
import { limitResource } from "./resource_limits.ts";

/** What the controller knows about a traced process; everything but pid is optional. */
export interface ProcessMeta {
  /**
   * Identifies the process: equal for the records of one process, different
   * for a later process that reused its pid (default: the pid).
   */
  key?: string;
  /** The process id (tgid). */
  pid: number;
  /** Absolute path of the executable (/proc/<pid>/exe). */
  exePath?: string;
  /** The executable's file name. */
  exeName?: string;
  /** The command line, argv[0] first. */
  cmdline?: string[];
  /** User name of the process owner. */
  owner?: string;
  /** The Go toolchain version from the build info, e.g. "go1.26.8". */
  goVersion?: string;
  /** The main module from the build info; its version is the default service.version. */
  mainModule?: { path: string; version: string };
  /** Build settings from the build info (GOOS, GOARCH, …). */
  buildSettings?: Record<string, string>;
  /** The container the process runs in (container.id). */
  containerId?: string;
  /** The Kubernetes pod the process runs in (k8s.pod.uid). */
  podUid?: string;
}

/** The resource-related environment variables, parsed. */
export interface ResourceEnv {
  /** OTEL_SERVICE_NAME, when set and not empty. */
  serviceName?: string;
  /** OTEL_RESOURCE_ATTRIBUTES as string attributes, in order. */
  attributes: KeyValue[];
  /** K8S_NODE_NAME: the node an agent in a container runs on. */
  k8sNodeName?: string;
}

/** Facts about the machine the controller and its targets run on. */
export interface HostInfo {
  /** host.name */
  name: string;
  /** host.arch, in semantic-convention spelling (amd64, arm64, …). */
  arch: string;
  /** k8s.node.name, when the agent was told its node (K8S_NODE_NAME). */
  k8sNodeName?: string;
}

/**
 * Parses OTEL_RESOURCE_ATTRIBUTES: comma-separated `key=value` pairs whose
 * keys and values are percent-encoded and trimmed. Empty items are ignored.
 * Throws an Error naming the bad item; the specification says to discard the
 * whole variable then, and we refuse to start instead of dropping it silently.
 */
export function parseResourceAttributes(text: string): [string, string][] {
  const pairs: [string, string][] = [];
  for (const item of text.split(",")) {
    if (item.trim() === "") continue;
    const eq = item.indexOf("=");
    if (eq < 0) {
      throw new Error(
        `Invalid OTEL_RESOURCE_ATTRIBUTES: item "${item.trim()}" has no "=" between key and value`,
      );
    }
    const key = decode(item.slice(0, eq).trim(), item);
    if (key === "") {
      throw new Error(
        `Invalid OTEL_RESOURCE_ATTRIBUTES: item "${item.trim()}" has an empty key`,
      );
    }
    pairs.push([key, decode(item.slice(eq + 1).trim(), item)]);
  }
  return pairs;
}

function decode(part: string, item: string): string {
  try {
    return decodeURIComponent(part);
  } catch {
    throw new Error(
      `Invalid OTEL_RESOURCE_ATTRIBUTES: item "${item.trim()}" has a malformed percent-encoding`,
    );
  }
}

/** Reads OTEL_SERVICE_NAME and OTEL_RESOURCE_ATTRIBUTES; throws on a malformed value. */
export function readResourceEnv(
  env: Record<string, string | undefined>,
): ResourceEnv {
  const serviceName = env.OTEL_SERVICE_NAME?.trim() || undefined;
  const attributes = parseResourceAttributes(env.OTEL_RESOURCE_ATTRIBUTES ?? "")
    .map(([k, v]) => keyValue(k, v));
  const k8sNodeName = env.K8S_NODE_NAME?.trim() || undefined;
  return { serviceName, attributes, ...(k8sNodeName && { k8sNodeName }) };
}

const archNames: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/**
 * host.name and host.arch of this machine (needs --allow-sys for the host
 * name). An agent in a container sees the container's host name: given its
 * node's name (K8S_NODE_NAME, the Kubernetes downward API's spec.nodeName),
 * that name is host.name and k8s.node.name.
 */
export function detectHost(node?: string): HostInfo {
  return {
    name: node ?? Deno.hostname(),
    arch: archNames[Deno.build.arch] ?? Deno.build.arch,
    ...(node && { k8sNodeName: node }),
  };
}

/** The attributes the controller contributes for `meta`, in a stable order. */
export function detectedAttributes(
  meta: ProcessMeta,
  host: HostInfo,
): KeyValue[] {
  const out: KeyValue[] = [keyValue("process.pid", meta.pid)];
  if (meta.exeName) out.push(keyValue("process.executable.name", meta.exeName));
  if (meta.exePath) out.push(keyValue("process.executable.path", meta.exePath));
  if (meta.cmdline?.length) {
    out.push(keyValue("process.command_args", meta.cmdline));
  }
  if (meta.owner) out.push(keyValue("process.owner", meta.owner));
  if (meta.goVersion) {
    out.push(keyValue("process.runtime.name", "go"));
    out.push(keyValue("process.runtime.version", meta.goVersion));
    const goos = meta.buildSettings?.GOOS;
    const goarch = meta.buildSettings?.GOARCH;
    const platform = goos && goarch ? ` ${goos}/${goarch}` : "";
    out.push(
      keyValue(
        "process.runtime.description",
        `go version ${meta.goVersion}${platform}`,
      ),
    );
  }
  out.push(keyValue("telemetry.distro.name", "spanbridge"));
  out.push(keyValue("telemetry.distro.version", version));
  out.push(keyValue("host.name", host.name));
  out.push(keyValue("host.arch", host.arch));
  if (meta.containerId) out.push(keyValue("container.id", meta.containerId));
  if (meta.podUid) out.push(keyValue("k8s.pod.uid", meta.podUid));
  if (host.k8sNodeName) out.push(keyValue("k8s.node.name", host.k8sNodeName));
  return out;
}

/**
 * True for an attribute that says where a process runs, which the agent
 * sets itself or leaves to the gateway: process.pid, host.*, container.*,
 * k8s.*. A traced program's own values of them are removed, not kept under
 * another name: a renamed claim could be forged under that name too, would
 * add bytes to every batch, and is still readable in the program's
 * environment (/proc/<pid>/environ) when someone debugs it.
 */
export function isPlaceAttribute(key: string): boolean {
  return key === "process.pid" || key.startsWith("host.") ||
    key.startsWith("container.") || key.startsWith("k8s.");
}

/** Merges the three sources of a process's resource (see the module doc for precedence). */
export function mergeResource(
  sent: Resource | undefined,
  meta: ProcessMeta,
  env: ResourceEnv,
  host: HostInfo,
): Resource {
  const sdk = sent?.attributes ?? [];
  const merged = new Map<string, KeyValue>();
  for (const kv of sdk) if (!isPlaceAttribute(kv.key)) merged.set(kv.key, kv);
  for (const kv of detectedAttributes(meta, host)) merged.set(kv.key, kv);
  for (const kv of env.attributes) merged.set(kv.key, kv);
  const sdkName = stringAttribute(sdk, "service.name");
  // When the process exited before /proc was read, the SDK's own
  // process.executable.name still names it: one program stays one service.
  const exeName = meta.exeName ??
    (meta.exePath?.split("/").pop() ||
      stringAttribute(sdk, "process.executable.name") ||
      undefined);
  const serviceName = env.serviceName ??
    stringAttribute(env.attributes, "service.name") ??
    (sdkName && !sdkName.startsWith("unknown_service") ? sdkName : undefined) ??
    exeName ??
    (sdkName || "unknown_service:go");
  merged.delete("service.name");
  const moduleVersion = meta.mainModule?.version;
  if (
    !merged.has("service.version") && moduleVersion &&
    moduleVersion !== "(devel)"
  ) {
    merged.set("service.version", keyValue("service.version", moduleVersion));
  }
  return create(ResourceSchema, {
    attributes: [keyValue("service.name", serviceName), ...merged.values()],
    droppedAttributesCount: sent?.droppedAttributesCount ?? 0,
  });
}

/**
 * Merged resources by process key and SDK resource key, each with its
 * encoding and key, so records of one process share one merged resource
 * and the queue groups their spans by its key. Each merged resource is cut
 * to its own bound first (resource_limits.ts). Bounded in bytes (keys and
 * encodings together): 100k distinct resources from one process must not
 * hold gigabytes; when the bound is reached the cache starts again empty,
 * and a resource is merged anew when it next comes. An entry that alone
 * would exceed the bound (a crafted record's resource of megabytes, as its
 * key) is not kept: it is merged anew for every record.
 */
export class ResourceCache {
  readonly #env: ResourceEnv;
  readonly #host: HostInfo;
  readonly #maxBytes: number;
  #byProcess = new Map<string, Map<string, EncodedResource>>();
  #bytes = 0;
  #evictions = 0;
  // The last lookup: records of one process come in runs.
  #lastProcess = "";
  #lastSent = "";
  #last: EncodedResource | undefined;

  /**
   * Creates an empty cache for one environment and host, holding at most
   * `maxBytes` (BatchOptions.maxResourceCacheBytes, whose default is the one
   * default).
   */
  constructor(env: ResourceEnv, host: HostInfo, maxBytes: number) {
    this.#env = env;
    this.#host = host;
    this.#maxBytes = maxBytes;
  }

  /** Bytes the cache holds now (keys and encodings). */
  get bytes(): number {
    return this.#bytes;
  }

  /** Times the cache was emptied because it reached its byte bound. */
  get evictions(): number {
    return this.#evictions;
  }

  /** The merged resource for spans `meta`'s process sent with resource `sent`. */
  resolve(
    sent: EncodedResource | undefined,
    meta: ProcessMeta,
  ): EncodedResource {
    const processKey = meta.key ?? String(meta.pid);
    const sentKey = sent?.key ?? "";
    if (
      this.#last && processKey === this.#lastProcess &&
      sentKey === this.#lastSent
    ) return this.#last;
    let known = this.#byProcess.get(processKey);
    let resource = known?.get(sentKey);
    if (!resource) {
      resource = encodeResource(limitResource(
        mergeResource(
          sent && decodeResource(sent),
          meta,
          this.#env,
          this.#host,
        ),
      ));
      // Strings are two bytes a character at most; the bytes once more.
      const cost = 2 * (processKey.length + sentKey.length) +
        3 * resource.bytes.length;
      if (cost > this.#maxBytes) {
        this.#last = undefined;
        return resource;
      }
      if (this.#bytes + cost > this.#maxBytes) {
        this.#byProcess = new Map();
        this.#bytes = 0;
        this.#evictions++;
        known = undefined;
      }
      if (!known) this.#byProcess.set(processKey, known = new Map());
      known.set(sentKey, resource);
      this.#bytes += cost;
    }
    this.#lastProcess = processKey;
    this.#lastSent = sentKey;
    return this.#last = resource;
  }
}

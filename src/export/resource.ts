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
 * service.name falls back from the environment to the SDK's value unless it
 * is the SDK default "unknown_service…", then to the executable name.
 * service.version, when nobody set it, is the main module's version from the
 * build info (unless that is "(devel)").
 *
 * @module
 */

import { create, toBinary } from "@bufbuild/protobuf";
import type { KeyValue } from "../../gen/opentelemetry/proto/common/v1/common_pb.ts";
import {
  type Resource,
  ResourceSchema,
} from "../../gen/opentelemetry/proto/resource/v1/resource_pb.ts";
import { version } from "../version.ts";
import { keyValue, stringAttribute } from "../otlp/mod.ts";

/** What the controller knows about a traced process; everything but pid is optional. */
export interface ProcessMeta {
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
  return { serviceName, attributes };
}

const archNames: Record<string, string> = { x86_64: "amd64", aarch64: "arm64" };

/**
 * host.name and host.arch of this machine (needs --allow-sys for the host
 * name). An agent in a container sees the container's host name: given
 * K8S_NODE_NAME (the Kubernetes downward API's spec.nodeName), that name is
 * host.name and k8s.node.name.
 */
export function detectHost(
  env: Record<string, string | undefined> = {},
): HostInfo {
  const node = env.K8S_NODE_NAME?.trim() || undefined;
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

/** Merges the three sources of a process's resource (see the module doc for precedence). */
export function mergeResource(
  sent: Resource | undefined,
  meta: ProcessMeta,
  env: ResourceEnv,
  host: HostInfo,
): Resource {
  const sdk = sent?.attributes ?? [];
  const merged = new Map<string, KeyValue>();
  for (const kv of sdk) merged.set(kv.key, kv);
  for (const kv of detectedAttributes(meta, host)) merged.set(kv.key, kv);
  for (const kv of env.attributes) merged.set(kv.key, kv);
  const sdkName = stringAttribute(sdk, "service.name");
  const serviceName = env.serviceName ??
    stringAttribute(env.attributes, "service.name") ??
    (sdkName && !sdkName.startsWith("unknown_service") ? sdkName : undefined) ??
    meta.exeName ??
    (meta.exePath?.split("/").pop() || `unknown_service:go`);
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
 * Remembers merged resources per process and per distinct SDK resource, so
 * records of one process share one Resource object (the batcher groups spans
 * by that identity).
 */
export class ResourceCache {
  readonly #env: ResourceEnv;
  readonly #host: HostInfo;
  readonly #byProcess = new WeakMap<ProcessMeta, Map<string, Resource>>();
  // The decoder hands out one Resource object per distinct encoding: its
  // fingerprint is computed once.
  readonly #fingerprints = new WeakMap<Resource, string>();

  /** Creates an empty cache for one environment and host. */
  constructor(env: ResourceEnv, host: HostInfo) {
    this.#env = env;
    this.#host = host;
  }

  /** The merged resource for spans `meta`'s process sent with resource `sent`. */
  resolve(sent: Resource | undefined, meta: ProcessMeta): Resource {
    let known = this.#byProcess.get(meta);
    if (!known) this.#byProcess.set(meta, known = new Map());
    const key = sent ? this.#fingerprintOf(sent) : "";
    let resource = known.get(key);
    if (!resource) {
      // An SDK that changes its resource on every batch must not grow this map forever.
      if (known.size >= 64) known.clear();
      resource = mergeResource(sent, meta, this.#env, this.#host);
      known.set(key, resource);
    }
    return resource;
  }

  #fingerprintOf(resource: Resource): string {
    let key = this.#fingerprints.get(resource);
    if (key === undefined) {
      this.#fingerprints.set(resource, key = fingerprint(resource));
    }
    return key;
  }
}

function fingerprint(resource: Resource): string {
  const bytes = toBinary(ResourceSchema, resource);
  let s = "";
  for (let i = 0; i < bytes.length; i += 4096) {
    s += String.fromCharCode(...bytes.subarray(i, i + 4096));
  }
  return s;
}

/**
 * The settings of the OTLP transport (otlp_transport.ts), per signal: the
 * types, the defaults of the OTLP exporter specification, written here
 * alone, and their reading from the OTEL_EXPORTER_OTLP_(<SIGNAL>_)*
 * variables.
 *
 * @module
 */

import { isIP } from "node:net";
import { redactUrl } from "../redact.ts";
import { type Env, envReader, maxMillis, positiveInteger } from "./_env.ts";
import { parseHeaders, type PemContent, pemProblem } from "./_otlp_env.ts";

/** The OTLP signals, each with its own path and OTEL_EXPORTER_OTLP_<SIGNAL>_* variables. */
export type OtlpSignal = "traces" | "metrics" | "logs";

/** The OTLP transports and encodings we send (OTEL_EXPORTER_OTLP_(<SIGNAL>_)PROTOCOL). */
export type OtlpProtocol = "http/protobuf" | "http/json" | "grpc";

const protocols: readonly OtlpProtocol[] = [
  "http/protobuf",
  "http/json",
  "grpc",
];

/**
 * What differs between the signals on the wire: the URL path over HTTP, the
 * service over gRPC, and what their items are called in errors.
 */
export const otlpSignals: Record<
  OtlpSignal,
  { path: string; grpcService: string; items: string }
> = {
  traces: {
    path: "v1/traces",
    grpcService: "opentelemetry.proto.collector.trace.v1.TraceService",
    items: "spans",
  },
  metrics: {
    path: "v1/metrics",
    grpcService: "opentelemetry.proto.collector.metrics.v1.MetricsService",
    items: "metrics",
  },
  logs: {
    path: "v1/logs",
    grpcService: "opentelemetry.proto.collector.logs.v1.LogsService",
    items: "log records",
  },
};

/** Where and how one signal's OTLP requests go. */
export interface OtlpTransportConfig {
  /** The signal sent: its path, its variables, its name in errors. */
  signal: OtlpSignal;
  /** Transport and encoding of the requests. */
  protocol: OtlpProtocol;
  /**
   * Full URL of the signal's endpoint over HTTP; over gRPC only its scheme
   * (https: TLS), host and port count.
   */
  url: string;
  /** Extra request headers, values percent-decoded. */
  headers: Record<string, string>;
  /** Time for one export including its retries, ms. */
  timeoutMillis: number;
  /** Request body compression. */
  compression: "gzip" | "none";
  /** PEM bytes of the CA certificates to trust for https (OTEL_EXPORTER_OTLP_CERTIFICATE). */
  ca?: Uint8Array;
  /** PEM bytes of the client certificate chain for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE). */
  cert?: Uint8Array;
  /** PEM bytes of the client private key for mutual TLS (OTEL_EXPORTER_OTLP_CLIENT_KEY). */
  key?: Uint8Array;
}

/** OTEL_EXPORTER_OTLP_TIMEOUT's accepted range, ms. */
export const otlpTimeoutBounds = { min: 1, max: maxMillis } as const;

/** The defaults of the OTLP exporter specification, and how many requests may be in flight. */
export const otlpDefaults = {
  /** OTEL_EXPORTER_OTLP_ENDPOINT over HTTP; the signal's path is appended. */
  endpoint: "http://localhost:4318",
  /** OTEL_EXPORTER_OTLP_ENDPOINT over gRPC. */
  grpcEndpoint: "http://localhost:4317",
  protocol: "http/protobuf",
  timeoutMillis: 10_000,
  compression: "none",
  /** Requests in flight at once; the span queue keeps below it. */
  concurrencyLimit: 30,
} as const;

/**
 * A transport configuration for `signal` with the OTLP defaults for what
 * `settings` leaves out (the endpoint http://localhost:4318 with the
 * signal's path, or http://localhost:4317 over gRPC). Reads no environment:
 * see {@linkcode readOtlpTransport}.
 */
export function otlpTransportConfig(
  signal: OtlpSignal,
  settings: Partial<Omit<OtlpTransportConfig, "signal">> = {},
): OtlpTransportConfig {
  const protocol = settings.protocol ?? otlpDefaults.protocol;
  return {
    signal,
    protocol,
    url: signalUrl(undefined, signal, protocol),
    headers: {},
    timeoutMillis: otlpDefaults.timeoutMillis,
    compression: otlpDefaults.compression,
    ...settings,
  };
}

/**
 * Reads and validates the OTLP transport settings of `signal` from `env`:
 * an OTEL_EXPORTER_OTLP_<SIGNAL>_* variable wins over the general one, and
 * the signal's headers are merged over the general ones. Certificate files
 * are read here. Throws an Error naming the bad variable.
 */
export function readOtlpTransport(
  env: Env,
  signal: OtlpSignal,
): OtlpTransportConfig {
  const get = envReader(env);
  const SIGNAL = signal.toUpperCase();
  const pick = (setting: string) => {
    const specific = `OTEL_EXPORTER_OTLP_${SIGNAL}_${setting}`;
    const name = get(specific) !== undefined
      ? specific
      : `OTEL_EXPORTER_OTLP_${setting}`;
    return { name, value: get(name) };
  };
  for (const suffix of ["", `${SIGNAL}_`]) {
    const name = `OTEL_EXPORTER_OTLP_${suffix}ENDPOINT`;
    const url = get(name);
    if (
      url !== undefined && !/^https?:$/.test(URL.parse(url)?.protocol ?? "")
    ) {
      throw new Error(
        `Invalid ${name}: "${
          redactUrl(url)
        }" is not an http:// or https:// URL`,
      );
    }
  }
  // The signal's own endpoint is used as it is; the general one gets the
  // signal's path (over HTTP).
  const protocol = readProtocol(pick("PROTOCOL"));
  const specificUrl = get(`OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`);
  const url = specificUrl !== undefined
    ? new URL(specificUrl).href
    : signalUrl(get("OTEL_EXPORTER_OTLP_ENDPOINT"), signal, protocol);
  const target = new URL(url);
  const host = target.hostname.replace(/^\[(.*)\]$/, "$1");
  if (protocol === "grpc" && target.protocol === "https:" && isIP(host)) {
    const name = specificUrl !== undefined
      ? `OTEL_EXPORTER_OTLP_${SIGNAL}_ENDPOINT`
      : "OTEL_EXPORTER_OTLP_ENDPOINT";
    // grpc-js sends the host as the TLS server name, which Deno's TLS
    // refuses for an IP address (Node only warns): every export would fail.
    throw new Error(
      `Invalid ${name}: over grpc with https, name the host (one the receiver's certificate holds), not the IP address ${host}`,
    );
  }

  // General headers first, then the signal's over them, as the spec says.
  const headers: Record<string, string> = {};
  for (
    const name of [
      "OTEL_EXPORTER_OTLP_HEADERS",
      `OTEL_EXPORTER_OTLP_${SIGNAL}_HEADERS`,
    ]
  ) {
    const value = get(name);
    if (value === undefined) continue;
    const parsed = parseHeaders(name, value);
    // gRPC metadata keys are narrower than HTTP header names; grpc-js would
    // refuse the key at every export.
    const bad = Object.keys(parsed).find((k) => !/^[0-9A-Za-z_.-]+$/.test(k));
    if (protocol === "grpc" && bad !== undefined) {
      throw new Error(
        `Invalid ${name}: "${bad}" is not a gRPC metadata key (letters, digits, "-", "_" and "." only)`,
      );
    }
    Object.assign(headers, parsed);
  }
  const timeout = pick("TIMEOUT");
  const compression = pick("COMPRESSION");
  if (
    compression.value !== undefined && compression.value !== "gzip" &&
    compression.value !== "none"
  ) {
    throw new Error(
      `Invalid ${compression.name}: "${compression.value}" is not one of gzip, none`,
    );
  }
  const clientCert = pick("CLIENT_CERTIFICATE");
  const clientKey = pick("CLIENT_KEY");
  if ((clientCert.value === undefined) !== (clientKey.value === undefined)) {
    throw new Error(
      `Invalid ${clientCert.name} / ${clientKey.name}: mutual TLS needs both, only one is set`,
    );
  }
  const file = (setting: string, holds: PemContent) =>
    readPem(pick(setting), holds);
  const tls = {
    ca: file("CERTIFICATE", "certificates"),
    cert: file("CLIENT_CERTIFICATE", "certificates"),
    key: file("CLIENT_KEY", "key"),
  };
  return otlpTransportConfig(signal, {
    protocol,
    url,
    headers,
    timeoutMillis: positiveInteger(
      get,
      timeout.name,
      otlpDefaults.timeoutMillis,
      otlpTimeoutBounds.max,
    ),
    compression: compression.value === "gzip" ? "gzip" : "none",
    ...Object.fromEntries(
      Object.entries(tls).filter(([, v]) => v !== undefined),
    ),
  });
}

/**
 * The URL of `signal` at the general `endpoint` (the protocol's default when
 * unset): over HTTP with the signal's path appended, over gRPC as it is.
 */
function signalUrl(
  endpoint: string | undefined,
  signal: OtlpSignal,
  protocol: OtlpProtocol,
): string {
  if (protocol === "grpc") {
    return new URL(endpoint ?? otlpDefaults.grpcEndpoint).href;
  }
  const base = (endpoint ?? otlpDefaults.endpoint).replace(/\/*$/, "/");
  return new URL(base + otlpSignals[signal].path).href;
}

function readProtocol(
  { name, value }: { name: string; value: string | undefined },
): OtlpProtocol {
  if (value === undefined) return otlpDefaults.protocol;
  const protocol = protocols.find((p) => p === value);
  if (protocol) return protocol;
  throw new Error(
    `Invalid ${name}: "${value}" is not one of ${protocols.join(", ")}`,
  );
}

/** The PEM bytes of the file variable `name` names, checked to hold `holds`. */
function readPem(
  { name, value }: { name: string; value: string | undefined },
  holds: PemContent,
): Uint8Array | undefined {
  if (value === undefined) return undefined;
  let bytes: Uint8Array;
  try {
    bytes = Deno.readFileSync(value);
  } catch (err) {
    throw new Error(
      `Invalid ${name}: cannot read "${value}": ${(err as Error).message}`,
      { cause: err },
    );
  }
  const problem = pemProblem(bytes, holds);
  if (problem) throw new Error(`Invalid ${name}: "${value}" ${problem}`);
  return bytes;
}

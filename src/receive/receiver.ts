/**
 * A small OTLP/HTTP trace and logs receiver: POST /v1/traces and /v1/logs
 * in protobuf or JSON, gzip or not, answered as the OTLP/HTTP specification
 * says (200 with an Export{Trace,Logs}ServiceResponse in the request's
 * encoding; 400 with a google.rpc.Status for a bad body; 415 for an unknown
 * content type or encoding). `spanbridge receive`, the demo and the
 * end-to-end tests use it. Printing, log records go under their spans: what
 * arrives is held for a moment (printDelayMs) and printed together, as the
 * spans and the log records of a request come in requests of their own.
 *
 * @module
 */

import {
  create,
  type DescMessage,
  fromBinary,
  type MessageInitShape,
  type MessageShape,
  toBinary,
  toJson,
} from "@bufbuild/protobuf";
import { gunzipSync } from "node:zlib";
import { StatusSchema } from "../../gen/google/rpc/status_pb.ts";
import {
  ExportTraceServiceRequestSchema,
  ExportTraceServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.ts";
import {
  type TracesData,
  TracesDataSchema,
} from "../../gen/opentelemetry/proto/trace/v1/trace_pb.ts";
import {
  ExportLogsServiceRequestSchema,
  ExportLogsServiceResponseSchema,
} from "../../gen/opentelemetry/proto/collector/logs/v1/logs_service_pb.ts";
import {
  type LogsData,
  LogsDataSchema,
} from "../../gen/opentelemetry/proto/logs/v1/logs_pb.ts";
import { fromOtlpJson, logsFromOtlpJson } from "../otlp/mod.ts";
import { formatTraces } from "./tree.ts";

/** The encoding of a request body. */
export type OtlpFormat = "protobuf" | "json";

/** What a receiver counted. */
export interface ReceiverCounters {
  /** Export requests accepted. */
  requests: number;
  /** Spans in those requests. */
  spans: number;
  /** Spans refused through partial success. */
  rejectedSpans: number;
  /** Log records in accepted logs requests. */
  logRecords: number;
  /** Log records refused through partial success. */
  rejectedLogRecords: number;
  /** Requests answered with a 4xx or 5xx status. */
  failedRequests: number;
}

/** Options of {@linkcode createTraceHandler} and {@linkcode startReceiver}. */
export interface ReceiverOptions {
  /** Called with every accepted request, before the response is sent. */
  onTraces?: (traces: TracesData, format: OtlpFormat, request: Request) => void;
  /** Called with every accepted logs request, before the response is sent. */
  onLogs?: (logs: LogsData, format: OtlpFormat, request: Request) => void;
  /** Print what arrives as trace trees, log records under their spans, on standard output. Default false. */
  print?: boolean;
  /**
   * How long what arrived is held before it is printed, so that the log
   * records of a trace (sent in requests of their own) are printed under
   * its spans (ms, default 1000; 0 prints each request as it comes).
   */
  printDelayMs?: number;
  /** Where printed trees go instead of standard output. */
  write?: (text: string) => void;
  /** Decides a partial success for a request (tests): spans refused and why. */
  partialSuccess?: (
    traces: TracesData,
  ) => { rejectedSpans: number; errorMessage: string } | undefined;
  /** Decides a partial success for a logs request (tests): records refused and why. */
  logsPartialSuccess?: (
    logs: LogsData,
  ) => { rejectedLogRecords: number; errorMessage: string } | undefined;
  /** Largest request body, compressed or not, in bytes. Default 64 MiB. */
  maxBodyBytes?: number;
}

/** A request handler plus its counters, for Deno.serve or a wrapper. */
export interface TraceHandler {
  /** Answers one HTTP request. */
  handle(request: Request): Promise<Response>;
  /** A snapshot of the counters. */
  counters(): ReceiverCounters;
  /** Prints what is still held for printing (see printDelayMs). */
  flush(): void;
}

const mediaTypes: Record<string, OtlpFormat> = {
  "application/x-protobuf": "protobuf",
  "application/json": "json",
};
const contentTypes: Record<OtlpFormat, string> = {
  protobuf: "application/x-protobuf",
  json: "application/json",
};

/** google.rpc.Code values used in error bodies. */
const rpcCode = { invalidArgument: 3, internal: 13 } as const;

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

/** Creates the /v1/traces and /v1/logs handler without a server, so tests can wrap it. */
export function createTraceHandler(
  options: ReceiverOptions = {},
): TraceHandler {
  const counters: ReceiverCounters = {
    requests: 0,
    spans: 0,
    rejectedSpans: 0,
    logRecords: 0,
    rejectedLogRecords: 0,
    failedRequests: 0,
  };
  const maxBody = options.maxBodyBytes ?? 64 << 20;
  const encoder = new TextEncoder();
  const write = options.write ?? ((text: string) => {
    const bytes = encoder.encode(text);
    let done = 0;
    while (done < bytes.length) {
      done += Deno.stdout.writeSync(bytes.subarray(done));
    }
  });
  const printer = new HeldPrinter(write, options.printDelayMs ?? 1000);

  /** What each path receives, and how an accepted request is counted. */
  const endpoints: Record<string, Endpoint> = {
    "/v1/traces": endpoint(
      ExportTraceServiceRequestSchema,
      ExportTraceServiceResponseSchema,
      fromOtlpJson,
      "request",
      (exportRequest, format, request) => {
        const traces = create(TracesDataSchema, {
          resourceSpans: exportRequest.resourceSpans,
        });
        let spans = 0;
        for (const rs of traces.resourceSpans) {
          for (const ss of rs.scopeSpans) spans += ss.spans.length;
        }
        const partial = options.partialSuccess?.(traces);
        counters.requests++;
        counters.spans += spans - (partial?.rejectedSpans ?? 0);
        counters.rejectedSpans += partial?.rejectedSpans ?? 0;
        options.onTraces?.(traces, format, request);
        if (options.print) printer.traces(traces);
        return {
          partialSuccess: partial && {
            rejectedSpans: BigInt(partial.rejectedSpans),
            errorMessage: partial.errorMessage,
          },
        };
      },
    ),
    "/v1/logs": endpoint(
      ExportLogsServiceRequestSchema,
      ExportLogsServiceResponseSchema,
      logsFromOtlpJson,
      "logs request",
      (exportRequest, format, request) => {
        const logs = create(LogsDataSchema, {
          resourceLogs: exportRequest.resourceLogs,
        });
        let records = 0;
        for (const rl of logs.resourceLogs) {
          for (const sl of rl.scopeLogs) records += sl.logRecords.length;
        }
        const partial = options.logsPartialSuccess?.(logs);
        counters.requests++;
        counters.logRecords += records - (partial?.rejectedLogRecords ?? 0);
        counters.rejectedLogRecords += partial?.rejectedLogRecords ?? 0;
        options.onLogs?.(logs, format, request);
        if (options.print) printer.logs(logs);
        return {
          partialSuccess: partial && {
            rejectedLogRecords: BigInt(partial.rejectedLogRecords),
            errorMessage: partial.errorMessage,
          },
        };
      },
    ),
  };

  async function handle(request: Request): Promise<Response> {
    let format: OtlpFormat = "protobuf";
    try {
      const url = new URL(request.url);
      const receive = Object.hasOwn(endpoints, url.pathname)
        ? endpoints[url.pathname]
        : undefined;
      if (!receive) {
        throw new HttpError(
          404,
          `Unknown path ${url.pathname}: use /v1/traces or /v1/logs`,
        );
      }
      if (request.method !== "POST") {
        throw new HttpError(
          405,
          `Method ${request.method} is not allowed: use POST`,
        );
      }
      const mediaType = (request.headers.get("content-type") ?? "").split(
        ";",
      )[0].trim().toLowerCase();
      const known = mediaTypes[mediaType];
      if (!known) {
        throw new HttpError(
          415,
          `Unsupported content type "${mediaType}": use application/x-protobuf or application/json`,
        );
      }
      format = known;
      const body = await readBody(request, maxBody);
      return receive(format, body, request);
    } catch (e) {
      counters.failedRequests++;
      const status = e instanceof HttpError ? e.status : 500;
      const error = create(StatusSchema, {
        code: status === 500 ? rpcCode.internal : rpcCode.invalidArgument,
        message: (e as Error).message,
      });
      const headers: Record<string, string> = status === 405
        ? { allow: "POST" }
        : {};
      return reply(status, format, StatusSchema, error, headers);
    }
  }

  return {
    handle,
    counters: () => ({ ...counters }),
    flush: () => printer.flush(),
  };
}

/**
 * Holds received spans and log records for `delayMs` from the first that
 * arrived, then prints them together (log records under their spans).
 */
class HeldPrinter {
  #traces: TracesData[] = [];
  #logs: LogsData[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;

  readonly #write: (text: string) => void;
  readonly #delayMs: number;

  constructor(write: (text: string) => void, delayMs: number) {
    this.#write = write;
    this.#delayMs = delayMs;
  }

  traces(traces: TracesData): void {
    this.#traces.push(traces);
    this.#hold();
  }

  logs(logs: LogsData): void {
    this.#logs.push(logs);
    this.#hold();
  }

  /** Prints everything held now. */
  flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#traces.length === 0 && this.#logs.length === 0) return;
    const traces = create(TracesDataSchema, {
      resourceSpans: this.#traces.flatMap((t) => t.resourceSpans),
    });
    const logs = create(LogsDataSchema, {
      resourceLogs: this.#logs.flatMap((l) => l.resourceLogs),
    });
    this.#traces = [];
    this.#logs = [];
    const text = formatTraces(traces, {}, logs);
    if (text === "") return;
    try {
      this.#write(text);
    } catch {
      // The output is gone (a closed pipe): printing is all this did, and
      // it runs from a timer, where a throw would end the process.
    }
  }

  #hold(): void {
    if (this.#delayMs <= 0) return this.flush();
    this.#timer ??= setTimeout(() => {
      this.#timer = undefined;
      this.flush();
    }, this.#delayMs);
  }
}

/** Answers one accepted request of a signal's path. */
type Endpoint = (
  format: OtlpFormat,
  body: Uint8Array,
  request: Request,
) => Response;

/**
 * The endpoint of one signal: decodes its export request (a bad body is a
 * 400 that says `what` could not be decoded), lets `accept` count and pass
 * it on, and answers 200 with the response `accept` returns.
 */
function endpoint<Req extends DescMessage, Res extends DescMessage>(
  requestSchema: Req,
  responseSchema: Res,
  fromOtlpJson: (json: unknown) => MessageShape<Req>,
  what: string,
  accept: (
    exportRequest: MessageShape<Req>,
    format: OtlpFormat,
    request: Request,
  ) => MessageInitShape<Res>,
): Endpoint {
  return (format, body, request) => {
    let exportRequest;
    try {
      exportRequest = format === "protobuf"
        ? fromBinary(requestSchema, body)
        : fromOtlpJson(
          JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(body)),
        );
    } catch (e) {
      throw new HttpError(
        400,
        `Cannot decode the ${format} ${what} body: ${(e as Error).message}`,
      );
    }
    const response = create(
      responseSchema,
      accept(exportRequest, format, request),
    );
    return reply(200, format, responseSchema, response);
  };
}

/** A response with `message` as its body, in the request's encoding. */
function reply<Desc extends DescMessage>(
  status: number,
  format: OtlpFormat,
  schema: Desc,
  message: MessageShape<Desc>,
  headers: Record<string, string> = {},
): Response {
  // toBinary always allocates a plain ArrayBuffer; its declared type is wider.
  const body = format === "json"
    ? JSON.stringify(toJson(schema, message))
    : toBinary(schema, message) as Uint8Array<ArrayBuffer>;
  return new Response(body, {
    status,
    headers: { "content-type": contentTypes[format], ...headers },
  });
}

async function readBody(
  request: Request,
  maxBody: number,
): Promise<Uint8Array> {
  const raw = new Uint8Array(await request.arrayBuffer());
  if (raw.length > maxBody) {
    throw new HttpError(
      413,
      `Request body is ${raw.length} bytes, over the ${maxBody}-byte limit`,
    );
  }
  const encoding = (request.headers.get("content-encoding") ?? "identity")
    .trim().toLowerCase();
  if (encoding === "identity") return raw;
  if (encoding !== "gzip") {
    throw new HttpError(
      415,
      `Unsupported content encoding "${encoding}": use gzip or none`,
    );
  }
  try {
    return gunzipSync(raw, { maxOutputLength: maxBody });
  } catch (e) {
    throw new HttpError(
      400,
      `Cannot gunzip the request body: ${(e as Error).message}`,
    );
  }
}

/** Options of {@linkcode startReceiver}. */
export interface StartReceiverOptions extends ReceiverOptions {
  /** Address to listen on. Default 127.0.0.1 (loopback only). */
  hostname?: string;
  /** Port to listen on; 0 picks a free one. Default 4318. */
  port?: number;
}

/** A running receiver. */
export interface Receiver {
  /** The port it listens on (useful with port 0). */
  port: number;
  /** "host:port" it listens on. */
  addr: string;
  /** The traces endpoint, e.g. http://127.0.0.1:4318/v1/traces. */
  url: string;
  /** The logs endpoint, e.g. http://127.0.0.1:4318/v1/logs. */
  logsUrl: string;
  /** A snapshot of the counters. */
  counters(): ReceiverCounters;
  /** Prints what is held for printing now (see printDelayMs). */
  flush(): void;
  /** Stops listening, waits for requests in progress and prints what is held. */
  close(): Promise<void>;
}

/** Starts an OTLP/HTTP trace and logs receiver; resolves once it listens. */
export function startReceiver(
  options: StartReceiverOptions = {},
): Promise<Receiver> {
  const handler = createTraceHandler(options);
  const hostname = options.hostname ?? "127.0.0.1";
  return new Promise((resolve, reject) => {
    try {
      const server = Deno.serve({
        hostname,
        port: options.port ?? 4318,
        onListen: (addr) => {
          const host = addr.hostname.includes(":")
            ? `[${addr.hostname}]`
            : addr.hostname;
          resolve({
            port: addr.port,
            addr: `${host}:${addr.port}`,
            url: `http://${host}:${addr.port}/v1/traces`,
            logsUrl: `http://${host}:${addr.port}/v1/logs`,
            counters: handler.counters,
            flush: handler.flush,
            close: async () => {
              await server.shutdown();
              handler.flush();
            },
          });
        },
      }, handler.handle);
    } catch (e) {
      const where = `${hostname}:${options.port ?? 4318}`;
      reject(
        new Error(`Cannot listen on ${where}: ${(e as Error).message}`, {
          cause: e,
        }),
      );
    }
  });
}

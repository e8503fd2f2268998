/**
 * `spanbridge receive`: an OTLP/HTTP trace and logs receiver that prints
 * what it gets as trace trees, log records under their spans, to look at
 * spans and logs without a collector.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { startReceiver } from "../receive/mod.ts";
import { type Command, ExitCode } from "./command.ts";

const help =
  `spanbridge receive: print OTLP traces and logs sent to this machine as trees

Usage:
  spanbridge receive [--listen host:port] [--quiet]

Accepts POST /v1/traces and /v1/logs in OTLP/HTTP protobuf or JSON,
gzip-compressed or not, and prints what arrives as indented trace trees with
durations, each log record under the span it was written in (log records
outside any span by service), until interrupted (Ctrl-C). What arrives is
printed a second later, so that spans and their log records, sent in
separate requests, are printed together. Point an exporter at it with
OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318.

Options:
  --listen host:port  Where to listen (default 127.0.0.1:4318, loopback only;
                      use 0.0.0.0:4318 to accept other machines, port 0 for any)
  -q, --quiet         Count spans and log records without printing them
  -h, --help          Show this help
`;

/** Splits "host:port" (or "[v6]:port", or ":port" for loopback); throws on a bad value. */
export function parseListen(value: string): { hostname: string; port: number } {
  const m = value.match(/^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/);
  const port = m ? Number(m[3]) : NaN;
  if (!m || port > 65535) {
    throw new Error(
      `Invalid --listen "${value}": expected host:port, e.g. 127.0.0.1:4318`,
    );
  }
  return { hostname: m[1] ?? (m[2] || "127.0.0.1"), port };
}

/** The `receive` subcommand. */
export const receiveCommand: Command = {
  name: "receive",
  summary: "Print OTLP traces and logs sent to 127.0.0.1:4318 as trees",
  help,
  async main(args) {
    let listen: { hostname: string; port: number };
    let quiet: boolean;
    try {
      const { values } = parseArgs({
        args,
        options: {
          listen: { type: "string", default: "127.0.0.1:4318" },
          quiet: { type: "boolean", short: "q", default: false },
          help: { type: "boolean", short: "h", default: false },
        },
        strict: true,
        allowPositionals: false,
      });
      if (values.help) {
        console.log(help);
        return ExitCode.ok;
      }
      listen = parseListen(values.listen);
      quiet = values.quiet;
    } catch (e) {
      console.error(
        `spanbridge receive: ${
          (e as Error).message
        }. Run "spanbridge receive --help" for usage.`,
      );
      return ExitCode.usage;
    }
    let receiver;
    try {
      receiver = await startReceiver({ ...listen, print: !quiet });
    } catch (e) {
      console.error(`spanbridge receive: ${(e as Error).message}`);
      return ExitCode.failure;
    }
    console.error(
      `spanbridge receive: listening on ${receiver.url} (Ctrl-C to stop)`,
    );
    const stopped = Promise.withResolvers<void>();
    const stop = () => stopped.resolve();
    Deno.addSignalListener("SIGINT", stop);
    Deno.addSignalListener("SIGTERM", stop);
    await stopped.promise;
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
    await receiver.close();
    const c = receiver.counters();
    console.error(
      `spanbridge receive: ${c.requests} requests, ${c.spans} spans, ${c.logRecords} log records, ${c.failedRequests} bad requests`,
    );
    return ExitCode.ok;
  },
};

/**
 * The telemetry HTTP listener: `/healthz` (liveness), `/readyz` (readiness)
 * and `/metrics` (Prometheus text).
 *
 * It is reachable by every local user (and, bound to 0.0.0.0, by every pod),
 * so it must never hold a connection for long, hold many, or die when the
 * process runs out of file descriptors. Neither HTTP server at hand does all
 * three (measured with Deno 2.9.6, 300 connections that sent half a request
 * head): `Deno.serve` has no timeout or connection cap at all (the 300 stayed
 * open for 40 s; at ~20,000 an accept failed with EMFILE and killed the
 * process); node:http honours `headersTimeout` and `maxConnections`, but its
 * accept loop stopped for good after one EMFILE (the listener went deaf while
 * the process lived on). Three GET endpoints need little HTTP, so the accept
 * loop and the request head are handled here: one deadline per connection,
 * a cap on open connections (the oldest one still sending its head is closed
 * to make room, so a flood of idle connections cannot lock out the kubelet's
 * probe), a response per connection (`Connection: close`), and accept errors
 * logged and retried after a pause.
 *
 * @module
 */
import type { Logger } from "../log.ts";
import type { Readiness } from "./readiness.ts";

/** What the listener serves. */
export interface TelemetryHandlers {
  /** The readiness verdict right now. */
  readiness(): Readiness;
  /** The metrics as Prometheus text. */
  metrics(): Promise<string>;
}

/** The content type of the Prometheus text exposition format. */
export const prometheusContentType = "text/plain; version=0.0.4; charset=utf-8";

/**
 * Answers one request: GET (or HEAD) /healthz, /readyz and /metrics; 404
 * otherwise. /readyz answers 503 with the failed checks when not ready.
 */
export async function handle(
  request: Request,
  handlers: TelemetryHandlers,
): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    return notAllowed();
  }
  switch (new URL(request.url).pathname) {
    case "/healthz":
      // Answering at all shows the agent's event loop is alive.
      return text(200, "ok\n");
    case "/readyz": {
      const r = handlers.readiness();
      const body = r.checks.map((c) =>
        `${c.ok ? "ok" : "FAIL"} ${c.name}: ${c.detail}`
      ).join("\n");
      return text(r.ready ? 200 : 503, `${body}\n`);
    }
    case "/metrics":
      try {
        return new Response(await handlers.metrics(), {
          headers: { "content-type": prometheusContentType },
        });
      } catch (err) {
        return text(500, `${(err as Error).message}\n`);
      }
    default:
      return text(404, "Not found: try /healthz, /readyz or /metrics.\n");
  }
}

function notAllowed(): Response {
  return text(405, "Only GET and HEAD are served.\n");
}

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** How long a connection may stay open, and how many may be open at once. */
export interface ListenerLimits {
  /** Time from accept until the answer is written, ms; then the connection is closed. Default 10000. */
  requestTimeoutMs: number;
  /** Connections open at once; a new one beyond this closes the oldest one still sending its request head, else it is closed at once. Default 128. */
  maxConnections: number;
}

/** The defaults: a scrape or a probe takes milliseconds, so both are generous. */
export const defaultListenerLimits: ListenerLimits = {
  requestTimeoutMs: 10_000,
  maxConnections: 128,
};

/** The running listener. */
export interface TelemetryServer {
  /** Where it listens (the real port when 0 was asked for). */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, closes the open connections and waits for them. */
  shutdown(): Promise<void>;
}

/** Longest request head read: a probe's or a scrape's is a few hundred bytes. */
const maxHeadBytes = 8192;
/** The pause after a failed accept (EMFILE, ENFILE, ENOMEM) before the next. */
const acceptRetryMs = 100;
/** At most one warning about failing accepts per this many ms. */
const acceptWarnMs = 10_000;

/**
 * Starts the listener on `listen`; throws when it cannot bind. Accept errors
 * are logged on `log` (at most one line per 10 s) and never end the listener.
 */
export function serveTelemetry(
  listen: { hostname: string; port: number },
  handlers: TelemetryHandlers,
  log?: Logger,
  limits: ListenerLimits = defaultListenerLimits,
): TelemetryServer {
  const listener = Deno.listen({
    hostname: listen.hostname,
    port: listen.port,
  });
  const open = new Set<Deno.Conn>();
  // Connections that have not sent a whole request head yet, oldest first.
  const waiting = new Set<Deno.Conn>();
  const exchanges = new Set<Promise<void>>();
  let closing = false;

  const exchange = async (conn: Deno.Conn) => {
    const deadline = setTimeout(() => conn.close(), limits.requestTimeoutMs);
    try {
      const head = await readHead(conn);
      waiting.delete(conn);
      const response = head === undefined
        ? text(431, "Request head too large.\n")
        : await respond(head, handlers);
      await writeResponse(conn, response, head?.method === "HEAD");
    } catch {
      // Closed by the deadline, by the peer or to make room: nothing to say.
    } finally {
      clearTimeout(deadline);
      waiting.delete(conn);
      open.delete(conn);
      close(conn);
    }
  };

  const acceptLoop = async () => {
    // Failed accepts since the last warning; warned at most every 10 s.
    let failures = 0;
    let warnedAt = -Infinity;
    while (!closing) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
      } catch (err) {
        if (closing || err instanceof Deno.errors.BadResource) return;
        failures++;
        if (performance.now() - warnedAt >= acceptWarnMs) {
          log?.warn(
            "Cannot accept a telemetry connection; retrying every 100 ms",
            { error: (err as Error).message, failures },
          );
          warnedAt = performance.now();
          failures = 0;
        }
        await new Promise((r) => setTimeout(r, acceptRetryMs));
        continue;
      }
      if (open.size >= limits.maxConnections) {
        const oldest = waiting.values().next().value;
        if (oldest === undefined) {
          close(conn);
          continue;
        }
        waiting.delete(oldest);
        open.delete(oldest);
        close(oldest);
      }
      open.add(conn);
      waiting.add(conn);
      const done = exchange(conn);
      exchanges.add(done);
      void done.then(() => exchanges.delete(done));
    }
  };
  const accepting = acceptLoop();

  return {
    addr: listener.addr as Deno.NetAddr,
    async shutdown() {
      closing = true;
      close(listener);
      for (const conn of open) close(conn);
      await accepting;
      await Promise.all(exchanges);
    },
  };
}

/** A parsed request line. */
interface RequestHead {
  method: string;
  target: string;
}

/** Reads up to the blank line ending the head; undefined when it is too large. */
async function readHead(conn: Deno.Conn): Promise<RequestHead | undefined> {
  const buf = new Uint8Array(maxHeadBytes);
  let n = 0;
  for (;;) {
    if (n === buf.length) return undefined;
    const got = await conn.read(buf.subarray(n));
    if (got === null) throw new Error("closed before the request head ended");
    n += got;
    const head = new TextDecoder().decode(buf.subarray(0, n));
    if (/\r?\n\r?\n/.test(head)) {
      const [method = "", target = ""] = head.split(/\r?\n/, 1)[0].split(" ");
      return { method, target };
    }
  }
}

async function respond(
  head: RequestHead,
  handlers: TelemetryHandlers,
): Promise<Response> {
  // Origin-form ("/metrics") or absolute-form ("http://host/metrics").
  const url = URL.parse(head.target, "http://telemetry");
  if (url === null || !/^[A-Z]+$/.test(head.method)) {
    return text(400, "Malformed request line.\n");
  }
  // Checked before a Request is made: it throws for CONNECT, TRACE, TRACK.
  if (head.method !== "GET" && head.method !== "HEAD") return notAllowed();
  return await handle(new Request(url, { method: head.method }), handlers);
}

const reasons: Record<number, string> = {
  200: "OK",
  400: "Bad Request",
  404: "Not Found",
  405: "Method Not Allowed",
  431: "Request Header Fields Too Large",
  500: "Internal Server Error",
  503: "Service Unavailable",
};

async function writeResponse(
  conn: Deno.Conn,
  response: Response,
  headOnly: boolean,
): Promise<void> {
  const body = new Uint8Array(await response.arrayBuffer());
  const lines = [
    `HTTP/1.1 ${response.status} ${reasons[response.status] ?? "Unknown"}`,
    ...[...response.headers].map(([k, v]) => `${k}: ${v}`),
    `content-length: ${body.length}`,
    "connection: close",
  ];
  const bytes = new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n");
  await writeAll(conn, bytes);
  if (!headOnly) await writeAll(conn, body);
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let n = 0; n < bytes.length;) {
    n += await conn.write(bytes.subarray(n));
  }
}

function close(resource: Deno.Conn | Deno.Listener): void {
  try {
    resource.close();
  } catch {
    // Already closed (the deadline and shutdown may both close it).
  }
}

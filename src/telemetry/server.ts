/**
 * The telemetry HTTP listener: `/healthz` (liveness), `/readyz` (readiness)
 * and `/metrics` (Prometheus text).
 *
 * @module
 */
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
    return text(405, "Only GET and HEAD are served.\n");
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

function text(status: number, body: string): Response {
  return new Response(body, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8" },
  });
}

/** Starts the listener; resolves once it accepts connections. */
export function serveTelemetry(
  listen: { hostname: string; port: number },
  handlers: TelemetryHandlers,
): Deno.HttpServer<Deno.NetAddr> {
  return Deno.serve(
    { hostname: listen.hostname, port: listen.port, onListen() {} },
    (request) => handle(request, handlers),
  );
}

/**
 * A discarding OTLP/HTTP receiver: it reads each request body, counts it
 * (in all and per path: /v1/traces, /v1/logs, ...) and answers 200 with an
 * empty export response (zero bytes of protobuf, valid for every signal)
 * without decoding, so that its CPU does not weigh on the pipeline it
 * measures.
 *
 * @module
 */

/** A running discarding receiver. */
export interface DiscardReceiver {
  /** The traces endpoint, e.g. http://127.0.0.1:40123/v1/traces. */
  url: string;
  /** The logs endpoint on the same port, e.g. http://127.0.0.1:40123/v1/logs. */
  logsUrl: string;
  /** Requests answered so far, to `path` (e.g. "/v1/logs") or to any path. */
  requests(path?: string): number;
  /** Body bytes read so far, sent to `path` or to any path. */
  bytes(path?: string): number;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Starts a discarding receiver on a free loopback port. */
export function startDiscardReceiver(): Promise<DiscardReceiver> {
  const byPath = new Map<string, { requests: number; bytes: number }>();
  const sum = (key: "requests" | "bytes", path?: string) => {
    if (path !== undefined) return byPath.get(path)?.[key] ?? 0;
    let n = 0;
    for (const counts of byPath.values()) n += counts[key];
    return n;
  };
  const empty = new Uint8Array(0);
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}/v1/traces`,
          logsUrl: `http://127.0.0.1:${port}/v1/logs`,
          requests: (path) => sum("requests", path),
          bytes: (path) => sum("bytes", path),
          close: () => server.shutdown(),
        }),
    }, async (request) => {
      const size = (await request.arrayBuffer()).byteLength;
      const path = new URL(request.url).pathname;
      const counts = byPath.get(path) ?? { requests: 0, bytes: 0 };
      counts.requests++;
      counts.bytes += size;
      byPath.set(path, counts);
      return new Response(empty, {
        headers: { "content-type": "application/x-protobuf" },
      });
    });
  });
}

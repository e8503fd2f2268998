/**
 * A discarding OTLP/HTTP receiver: it reads each request body, counts it and
 * answers 200 with an empty ExportTraceServiceResponse (zero bytes of
 * protobuf) without decoding, so that its CPU does not weigh on the pipeline
 * it measures.
 *
 * @module
 */

/** A running discarding receiver. */
export interface DiscardReceiver {
  /** The traces endpoint, e.g. http://127.0.0.1:40123/v1/traces. */
  url: string;
  /** Requests answered so far. */
  requests(): number;
  /** Body bytes read so far. */
  bytes(): number;
  /** Stops listening. */
  close(): Promise<void>;
}

/** Starts a discarding receiver on a free loopback port. */
export function startDiscardReceiver(): Promise<DiscardReceiver> {
  let requests = 0;
  let bytes = 0;
  const empty = new Uint8Array(0);
  return new Promise((resolve) => {
    const server = Deno.serve({
      hostname: "127.0.0.1",
      port: 0,
      onListen: ({ port }) =>
        resolve({
          url: `http://127.0.0.1:${port}/v1/traces`,
          requests: () => requests,
          bytes: () => bytes,
          close: () => server.shutdown(),
        }),
    }, async (request) => {
      bytes += (await request.arrayBuffer()).byteLength;
      requests++;
      return new Response(empty, {
        headers: { "content-type": "application/x-protobuf" },
      });
    });
  });
}

// OTLP over https to a collector with a certificate of its own CA: the
// certificate named by OTEL_EXPORTER_OTLP_CERTIFICATE is trusted, and
// nothing else is. The certificates are made here with openssl.
import { ok, strictEqual } from "node:assert/strict";
import { richTraces, sampleBatch } from "../../testing/traces.ts";
import { selfSigned } from "../../testing/tls.ts";
import { readExportConfig } from "./config.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";

/** A free TCP port on loopback. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("OTLP exporter trusts the CA of OTEL_EXPORTER_OTLP_CERTIFICATE for https, and only then", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-tls-test-" });
  const { cert, key } = await selfSigned(dir);
  let requests = 0;
  const server = Deno.serve({
    hostname: "127.0.0.1",
    port: 0,
    cert: await Deno.readTextFile(cert),
    key: await Deno.readTextFile(key),
    onListen() {},
  }, async (req) => {
    requests++;
    await req.arrayBuffer();
    return new Response(new Uint8Array(0), {
      headers: { "content-type": "application/x-protobuf" },
    });
  });
  try {
    const env = {
      OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${server.addr.port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: "3000",
    };
    const untrusted = createOtlpExporter(readExportConfig(env).otlp);
    const refused = await untrusted.export(sampleBatch(richTraces()));
    await untrusted.shutdown();
    ok(!refused.ok, "an unknown CA must not be trusted");
    strictEqual(requests, 0);

    const trusted = createOtlpExporter(
      readExportConfig({ ...env, OTEL_EXPORTER_OTLP_CERTIFICATE: cert }).otlp,
    );
    const sent = await trusted.export(sampleBatch(richTraces()));
    await trusted.shutdown();
    ok(sent.ok, sent.ok ? "" : sent.error.message);
    strictEqual(requests, 1);
  } finally {
    await server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OTLP exporter presents the client certificate of OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE / _CLIENT_KEY (mutual TLS)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "spanbridge-mtls-test-" });
  const server = await selfSigned(dir, "server");
  const client = await selfSigned(dir, "client");
  // Deno's own TLS servers cannot ask for a client certificate; openssl's
  // test server can, and says whose it verified. It speaks no HTTP POST, so
  // the export itself fails either way: the handshake is what is checked.
  const port = freePort();
  const sServer = new Deno.Command("openssl", {
    args: [
      "s_server",
      "-accept",
      `127.0.0.1:${port}`,
      "-cert",
      server.cert,
      "-key",
      server.key,
      "-Verify",
      "1",
      "-verify_return_error",
      "-CAfile",
      client.cert,
      "-naccept",
      "1",
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 500)); // listening
    const exporter = createOtlpExporter(
      readExportConfig({
        OTEL_EXPORTER_OTLP_ENDPOINT: `https://127.0.0.1:${port}`,
        OTEL_EXPORTER_OTLP_TIMEOUT: "2000",
        OTEL_EXPORTER_OTLP_CERTIFICATE: server.cert,
        OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: client.cert,
        OTEL_EXPORTER_OTLP_CLIENT_KEY: client.key,
      }).otlp,
    );
    await exporter.export(sampleBatch(richTraces()));
    await exporter.shutdown();
  } finally {
    await sServer.stdin.close();
    setTimeout(() => {
      try {
        sServer.kill();
      } catch {
        // Exited after its one connection.
      }
    }, 2000);
    const out = await sServer.output();
    const text = new TextDecoder().decode(out.stdout) +
      new TextDecoder().decode(out.stderr);
    await Deno.remove(dir, { recursive: true });
    ok(
      /depth=0 CN ?= ?spanbridge-test-client\s+verify return:1/.test(text),
      `the server did not verify our client certificate:\n${text}`,
    );
  }
});

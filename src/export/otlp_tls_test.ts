// OTLP over https to a collector with a certificate of its own CA: the
// certificate named by OTEL_EXPORTER_OTLP_CERTIFICATE is trusted, and
// nothing else is. The certificates are made here with openssl.
import { ok, strictEqual } from "node:assert/strict";
import { richTraces, sampleBatch } from "../otlp/test_traces.ts";
import { readExportConfig } from "./config.ts";
import { createOtlpExporter } from "./otlp_exporter.ts";

/** A self-signed certificate for 127.0.0.1 and its key, as PEM files in `dir`. */
async function selfSigned(dir: string): Promise<{ cert: string; key: string }> {
  const cert = `${dir}/cert.pem`;
  const key = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=spanbridge-test",
      "-addext",
      "subjectAltName=IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  ok(out.success, new TextDecoder().decode(out.stderr));
  return { cert, key };
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

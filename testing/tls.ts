/**
 * TLS material for tests: self-signed certificates made with openssl.
 *
 * @module
 */
import assert from "node:assert/strict";

/** A certificate and its key, as PEM file paths. */
export interface PemPair {
  /** The certificate's PEM file. */
  cert: string;
  /** The private key's PEM file. */
  key: string;
}

/**
 * Makes a self-signed certificate (CN spanbridge-test-`name`, valid one day,
 * for localhost and 127.0.0.1) and its key as `dir`/`name`.pem and
 * `dir`/`name`.key; throws with openssl's stderr when it fails.
 */
export async function selfSigned(
  dir: string,
  name = "server",
): Promise<PemPair> {
  const cert = `${dir}/${name}.pem`;
  const key = `${dir}/${name}.key`;
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
      `/CN=spanbridge-test-${name}`,
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-keyout",
      key,
      "-out",
      cert,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.ok(
    out.success,
    `openssl req for the ${name} certificate failed: ${
      new TextDecoder().decode(out.stderr)
    }`,
  );
  return { cert, key };
}

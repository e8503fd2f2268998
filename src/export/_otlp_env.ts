/**
 * The text formats inside the OTLP transport variables: the headers list
 * and the PEM files of TLS, each checked at start so that a mistake stops
 * the agent with the variable named instead of failing at every export.
 *
 * @module
 */

import { createPrivateKey, X509Certificate } from "node:crypto";

/** What a PEM file must hold. */
export type PemContent = "certificates" | "key";

/**
 * Why `bytes` are not the PEM `holds` asks for, or undefined when they are.
 * Checked at start: Node's TLS would otherwise fail only at the first export,
 * long after the agent said it was running.
 */
export function pemProblem(
  bytes: Uint8Array,
  holds: PemContent,
): string | undefined {
  const text = new TextDecoder().decode(bytes);
  if (holds === "key") {
    try {
      createPrivateKey(text);
      return undefined;
    } catch (err) {
      return `is not a PEM private key (${(err as Error).message})`;
    }
  }
  const blocks = text.match(
    /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g,
  );
  if (!blocks) return "holds no PEM certificate (-----BEGIN CERTIFICATE-----)";
  for (const [i, block] of blocks.entries()) {
    try {
      new X509Certificate(block);
    } catch (err) {
      return `has a certificate that does not parse (number ${i + 1}: ${
        (err as Error).message
      })`;
    }
  }
  return undefined;
}

/**
 * Parses an OTLP headers list ("key=value,key2=value2", values
 * percent-encoded). The OpenTelemetry transport skips a malformed entry
 * without a word, so requests would go out without, say, their
 * authorization, and Node's HTTP client refuses control characters in a
 * value at every export: refuse both here instead.
 */
export function parseHeaders(
  name: string,
  value: string,
): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const entry of value.split(",")) {
    if (entry.trim() === "") continue;
    const eq = entry.indexOf("=");
    const key = eq < 0 ? "" : entry.slice(0, eq).trim();
    if (!/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(key)) {
      // Only the entry's start: the rest may be a secret (a value after a
      // colon typed for "=", say).
      const start = entry.trim().match(/^[^=:\s]*/)![0].slice(0, 40);
      throw new Error(
        `Invalid ${name}: the entry starting "${start}" is not key=value with a valid header name`,
      );
    }
    let decoded: string;
    try {
      decoded = decodeURIComponent(entry.slice(eq + 1).trim());
    } catch {
      throw new Error(
        `Invalid ${name}: the value of "${key}" is not valid percent-encoding`,
      );
    }
    // RFC 9110 field-value characters: no CR, LF, NUL or other controls.
    if (!/^[\t\x20-\x7e\x80-\xff]*$/.test(decoded)) {
      throw new Error(
        `Invalid ${name}: the value of "${key}" holds a control character (CR, LF or another)`,
      );
    }
    headers[key] = decoded;
  }
  return headers;
}

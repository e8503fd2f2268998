/**
 * Keeps secrets out of everything spanbridge prints: log lines, error
 * messages, `/readyz` and `/metrics`. The secrets are the user info of an
 * OTLP endpoint URL (`http://alice:s3cr3t@collector:4318`) and the values of
 * OTEL_EXPORTER_OTLP_(<SIGNAL>_)HEADERS, which usually carry a token.
 *
 * `redactUrl` is for a URL about to be printed; `Redactor` scrubs free text
 * (a library's error message may quote what it was given), and the CLI's
 * logger runs every line through one, so a line that forgot to redact does
 * not leak either.
 *
 * @module
 */

/** What a secret is replaced with, as OpenTelemetry's semantic conventions write it. */
export const redacted = "REDACTED";

/**
 * `url` with its user name and password replaced by REDACTED. A string that
 * does not parse as a URL has everything before its last "@" (after the
 * scheme) replaced, since where its user info ends cannot be known.
 */
export function redactUrl(url: string): string {
  const parsed = URL.parse(url);
  if (parsed && parsed.host !== "") {
    if (parsed.username === "" && parsed.password === "") return url;
    parsed.username = redacted;
    if (parsed.password !== "") parsed.password = redacted;
    return parsed.href;
  }
  const at = url.lastIndexOf("@");
  if (at < 0) return url;
  const scheme = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.exec(url)?.[0] ?? "";
  return `${scheme}${redacted}${url.slice(at)}`;
}

/** Shorter values are not scrubbed from free text: they would blank out ordinary words and digits. */
const minSecretLength = 4;

/** Scrubs known secret strings from text. */
export class Redactor {
  readonly #secrets: string[];

  /**
   * A redactor of the secrets of `transports`: each endpoint's user info
   * (as written in the URL and decoded) and each header value.
   */
  constructor(transports: { url: string; headers: Record<string, string> }[]) {
    const secrets = new Set<string>();
    for (const { url, headers } of transports) {
      const parsed = URL.parse(url);
      for (const part of [parsed?.username, parsed?.password]) {
        if (!part) continue;
        secrets.add(part);
        secrets.add(safeDecode(part));
      }
      for (const value of Object.values(headers)) secrets.add(value);
    }
    // Longest first, so a secret containing another is replaced whole; and
    // as JSON writes them, for text that is already a JSON line.
    this.#secrets = [...secrets]
      .flatMap((s) => [s, JSON.stringify(s).slice(1, -1)])
      .filter((s) => s.length >= minSecretLength)
      .sort((a, b) => b.length - a.length);
  }

  /** `text` with every known secret replaced by REDACTED. */
  text(text: string): string {
    for (const secret of this.#secrets) {
      if (text.includes(secret)) text = text.replaceAll(secret, redacted);
    }
    return text;
  }
}

function safeDecode(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

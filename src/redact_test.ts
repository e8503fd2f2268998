import assert from "node:assert/strict";
import { Redactor, redactUrl } from "./redact.ts";

Deno.test("redactUrl replaces the user info of a URL and leaves other URLs alone", () => {
  const cases: [string, string][] = [
    [
      "http://alice:s3cr3t@127.0.0.1:4318/v1/traces",
      "http://REDACTED:REDACTED@127.0.0.1:4318/v1/traces",
    ],
    [
      "https://token@collector/v1/traces",
      "https://REDACTED@collector/v1/traces",
    ],
    // The WHATWG parser ends user info at the last "@".
    ["http://alice:p@ss@host:1/", "http://REDACTED:REDACTED@host:1/"],
    ["http://collector:4318/v1/traces", "http://collector:4318/v1/traces"],
    ["http://host/path@x", "http://host/path@x"],
    // Not parseable: everything before the last "@" goes.
    ["ftp://alice:s3/cr3t@host", "ftp://REDACTED@host"],
    ["alice:s3cr3t@collector:4318", "REDACTED@collector:4318"],
    ["not a url", "not a url"],
  ];
  for (const [url, expected] of cases) assert.equal(redactUrl(url), expected);
});

Deno.test("Redactor scrubs user info and header values from free text, also inside JSON", () => {
  const r = new Redactor([
    {
      url: "http://alice:s3%2Fcr3t@127.0.0.1:1/v1/traces",
      headers: { authorization: 'Bearer "t0p"s3cr3t', "x-short": "ab" },
    },
    { url: "http://localhost:4318/v1/metrics", headers: {} },
  ]);
  assert.equal(
    r.text("connect to alice:s3/cr3t and s3%2Fcr3t failed"),
    "connect to REDACTED:REDACTED and REDACTED failed",
  );
  const line = JSON.stringify({ msg: 'sent Bearer "t0p"s3cr3t' });
  assert.equal(line.includes("t0p"), true);
  assert.equal(r.text(line), JSON.stringify({ msg: "sent REDACTED" }));
  // Values shorter than 4 characters would blank out ordinary words.
  assert.equal(r.text("abc ab"), "abc ab");
});

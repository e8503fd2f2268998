import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { ExitCode } from "./command.ts";
import { parseListen, receiveCommand } from "./receive.ts";

Deno.test("parseListen reads host:port, [v6]:port and :port", () => {
  deepStrictEqual(parseListen("127.0.0.1:4318"), {
    hostname: "127.0.0.1",
    port: 4318,
  });
  deepStrictEqual(parseListen("0.0.0.0:0"), { hostname: "0.0.0.0", port: 0 });
  deepStrictEqual(parseListen("[::1]:9000"), { hostname: "::1", port: 9000 });
  deepStrictEqual(parseListen(":4318"), { hostname: "127.0.0.1", port: 4318 });
  throws(
    () => parseListen("4318"),
    /Invalid --listen "4318": expected host:port/,
  );
  throws(() => parseListen("host:99999"), /Invalid --listen/);
});

async function runCli(args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "receive",
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  return {
    code,
    stdout: new TextDecoder().decode(stdout),
    stderr: new TextDecoder().decode(stderr),
  };
}

Deno.test("spanbridge receive --help prints usage and exits 0", async () => {
  const { code, stdout } = await runCli(["--help"]);
  strictEqual(code, ExitCode.ok);
  ok(stdout.includes("spanbridge receive [--listen host:port]"), stdout);
});

Deno.test("spanbridge receive rejects a bad flag with exit code 2", async () => {
  const { code, stderr } = await runCli(["--bogus"]);
  strictEqual(code, ExitCode.usage);
  ok(stderr.includes("spanbridge receive: "), stderr);
  strictEqual(receiveCommand.name, "receive");
});

Deno.test("spanbridge receive prints trees, log records under their spans, until SIGTERM, then a summary", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("../main.ts", import.meta.url).pathname,
      "receive",
      "--listen",
      "127.0.0.1:0",
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = child.stderr.pipeThrough(new TextDecoderStream()).getReader();
  let banner = "";
  while (!banner.includes("\n")) banner += (await stderr.read()).value ?? "";
  const url = banner.match(/listening on (\S+)/)?.[1];
  ok(url, banner);
  const body = JSON.stringify({
    resourceSpans: [{
      scopeSpans: [{
        spans: [{
          traceId: "5b8efff798038103d269b633813fc60c",
          spanId: "eee19b7ec3c1b174",
          name: "hello",
          kind: 2,
          startTimeUnixNano: "1732450000000000000",
          endTimeUnixNano: "1732450000002500000",
        }],
      }],
    }],
  });
  const res = await fetch(url, {
    method: "POST",
    body,
    headers: { "content-type": "application/json" },
  });
  strictEqual(res.status, 200);
  await res.body?.cancel();
  const logs = await fetch(url.replace("/v1/traces", "/v1/logs"), {
    method: "POST",
    body: JSON.stringify({
      resourceLogs: [{
        scopeLogs: [{
          logRecords: [{
            traceId: "5b8efff798038103d269b633813fc60c",
            spanId: "eee19b7ec3c1b174",
            severityText: "INFO",
            body: { stringValue: "hi" },
          }],
        }],
      }],
    }),
    headers: { "content-type": "application/json" },
  });
  strictEqual(logs.status, 200);
  await logs.body?.cancel();
  child.kill("SIGTERM");
  const stdout = await new Response(child.stdout).text();
  let rest = "";
  for (let r = await stderr.read(); !r.done; r = await stderr.read()) {
    rest += r.value;
  }
  strictEqual((await child.status).code, 0);
  ok(
    stdout.includes("└─ hello  [?]  SERVER  2.500 ms\n   · INFO  hi  [?]\n"),
    stdout,
  );
  ok(rest.includes("2 requests, 1 spans, 1 log records, 0 bad requests"), rest);
});

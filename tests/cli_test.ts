/**
 * The CLI as a user meets it: help, version, and a clear one-line error with
 * the documented exit code for every kind of bad input that needs no kernel.
 */
import assert from "node:assert/strict";
import { type CliResult, root, runCli } from "../testing/harness.ts";

/** Runs `spanbridge <args>` with `env` added; resolves with its exit code and output. */
function spanbridge(
  args: string[],
  env: Record<string, string> = {},
): Promise<CliResult> {
  return runCli(args, { env });
}

const tmp = await Deno.makeTempDir({ prefix: "spanbridge-cli-test-" });
globalThis.addEventListener(
  "unload",
  () => Deno.removeSync(tmp, { recursive: true }),
);

Deno.test("spanbridge --help lists the commands and exits 0", async () => {
  const r = await spanbridge(["--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /run\s+Attach to Go programs/);
  assert.match(r.stdout, /receive\s+/);
});

Deno.test("spanbridge run --help documents targets, OTEL variables and exit codes", async () => {
  const r = await spanbridge(["run", "--help"]);
  assert.equal(r.code, 0);
  for (
    const text of [
      "--target",
      "--pid",
      "OTEL_EXPORTER_OTLP_ENDPOINT",
      "OTEL_SDK_DISABLED",
      "OTEL_BSP_MAX_QUEUE_SIZE",
      "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
      "OTEL_BSP_SCHEDULE_DELAY",
      "OTEL_BSP_EXPORT_TIMEOUT",
      "OTEL_EXPORTER_OTLP_CERTIFICATE",
      "OTEL_EXPORTER_OTLP_CLIENT_KEY",
      "OTEL_LOG_LEVEL",
      "--sample exe:<glob>=<ratio>",
      "SPANBRIDGE_SAMPLE",
      "Exit codes",
      "4 stopped but spans were dropped",
    ]
  ) {
    assert.ok(r.stdout.includes(text), `help lacks ${text}`);
  }
});

Deno.test("spanbridge receive --help exits 0", async () => {
  const r = await spanbridge(["receive", "--help"]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /receive/);
});

Deno.test("spanbridge --version prints the version from deno.json", async () => {
  const config = JSON.parse(await Deno.readTextFile(`${root}deno.json`));
  const r = await spanbridge(["--version"]);
  assert.equal(r.code, 0);
  assert.equal(r.stdout.trim(), `spanbridge ${config.version}`);
});

for (
  const [name, args, env, code, pattern] of [
    [
      "an unknown command",
      ["frobnicate"],
      {},
      2,
      /unknown command "frobnicate"/,
    ],
    ["no target", ["run"], {}, 2, /No target/],
    ["an unknown flag", ["run", "--bogus"], {}, 2, /bogus/],
    ["a bad pid", ["run", "--pid", "12ab"], {}, 2, /Invalid pid "12ab"/],
    [
      "a bad log level",
      ["run", "--target", "/bin/true", "--log-level", "loud"],
      {},
      2,
      /Invalid log level/,
    ],
    [
      "a bad ring size",
      ["run", "--target", "/bin/true", "--ring-size", "huge"],
      {},
      2,
      /Invalid ring size/,
    ],
    [
      "a missing target file",
      ["run", "--target", `${tmp}/nope`],
      {},
      2,
      /nope/,
    ],
    [
      "a non-ELF target",
      ["run", "--target", `${root}README.md`],
      {},
      2,
      /not an ELF/i,
    ],
    ["a non-Go target", ["run", "--target", "/bin/true"], {}, 2, /not a Go/i],
    [
      "a pid that does not exist",
      ["run", "--pid", "4194303"],
      {},
      2,
      /4194303/,
    ],
    [
      "a bad OTEL_EXPORTER_OTLP_ENDPOINT",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_ENDPOINT: "not a url" },
      2,
      /OTEL_EXPORTER_OTLP_ENDPOINT/,
    ],
    [
      "a bad OTEL_EXPORTER_OTLP_HEADERS",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_HEADERS: "authorization" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_HEADERS/,
    ],
    [
      "a bad OTEL_EXPORTER_OTLP_TIMEOUT",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_TIMEOUT: "soon" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_TIMEOUT: .*soon.* is not a positive integer/,
    ],
    [
      "OTEL_EXPORTER_OTLP_PROTOCOL=thrift",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_PROTOCOL: "thrift" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_PROTOCOL: .*thrift.* is not one of http\/protobuf, http\/json, grpc/,
    ],
    [
      "a grpc endpoint over https named by an IP address",
      ["run", "--target", "/bin/true"],
      {
        OTEL_EXPORTER_OTLP_PROTOCOL: "grpc",
        OTEL_EXPORTER_OTLP_ENDPOINT: "https://10.0.0.7:4317",
      },
      2,
      /Invalid OTEL_EXPORTER_OTLP_ENDPOINT: over grpc with https, name the host/,
    ],
    [
      "a header value with CR/LF",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_HEADERS: "x-a=1%0D%0Ax-injected: 2" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_HEADERS: the value of "x-a" holds a control character/,
    ],
    [
      "an absurd OTEL_EXPORTER_OTLP_TIMEOUT",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_TIMEOUT: "99999999999" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_TIMEOUT: 99999999999 exceeds the maximum of 3600000/,
    ],
    [
      "OTEL_BSP_MAX_QUEUE_SIZE=1e20",
      ["run", "--target", "/bin/true"],
      { OTEL_BSP_MAX_QUEUE_SIZE: "1e20" },
      2,
      /Invalid OTEL_BSP_MAX_QUEUE_SIZE: .*1e20.* is not a positive integer/,
    ],
    [
      "OTEL_BSP_MAX_QUEUE_SIZE=1e3",
      ["run", "--target", "/bin/true"],
      { OTEL_BSP_MAX_QUEUE_SIZE: "1e3" },
      2,
      /Invalid OTEL_BSP_MAX_QUEUE_SIZE: .*1e3.* is not a positive integer/,
    ],
    [
      "OTEL_BSP_EXPORT_TIMEOUT, which it does not support",
      ["run", "--target", "/bin/true"],
      { OTEL_BSP_EXPORT_TIMEOUT: "5000" },
      2,
      /OTEL_BSP_EXPORT_TIMEOUT: .*set OTEL_EXPORTER_OTLP_TIMEOUT instead/,
    ],
    [
      "an unreadable OTEL_EXPORTER_OTLP_CERTIFICATE",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_CERTIFICATE: "/nonexistent/ca.pem" },
      2,
      /Invalid OTEL_EXPORTER_OTLP_CERTIFICATE: cannot read "\/nonexistent\/ca.pem"/,
    ],
    [
      "a client certificate without its key",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE: "/etc/hostname" },
      2,
      /mutual TLS needs both/,
    ],
    [
      "a bad OTEL_LOG_LEVEL",
      ["run", "--target", "/bin/true"],
      { OTEL_LOG_LEVEL: "loud" },
      2,
      /Invalid OTEL_LOG_LEVEL/,
    ],
    [
      "--instance ../evil",
      ["run", "--target", "/bin/true", "--instance", "../evil"],
      {},
      2,
      /Invalid instance name "..\/evil"/,
    ],
    [
      "a pid above the kernel's limit",
      ["run", "--pid", "4194305"],
      {},
      2,
      /Invalid pid "4194305"/,
    ],
    [
      "OTEL_METRIC_EXPORT_INTERVAL=3000000000 (past the timer's range)",
      ["run", "--target", "/bin/true", "--telemetry", "0"],
      { OTEL_METRIC_EXPORT_INTERVAL: "3000000000" },
      2,
      /Invalid OTEL_METRIC_EXPORT_INTERVAL "3000000000"/,
    ],
    [
      "OTEL_METRIC_EXPORT_INTERVAL=Infinity",
      ["run", "--target", "/bin/true", "--telemetry", "0"],
      { OTEL_METRIC_EXPORT_INTERVAL: "Infinity" },
      2,
      /Invalid OTEL_METRIC_EXPORT_INTERVAL "Infinity"/,
    ],
    [
      "OTEL_BSP_MAX_QUEUE_SIZE=99999999999999",
      ["run", "--target", "/bin/true"],
      { OTEL_BSP_MAX_QUEUE_SIZE: "99999999999999" },
      2,
      /Invalid OTEL_BSP_MAX_QUEUE_SIZE: 99999999999999 exceeds the maximum of 10000000/,
    ],
    [
      "SPANBRIDGE_MAX_QUEUE_BYTES=8000000G",
      ["run", "--target", "/bin/true"],
      { SPANBRIDGE_MAX_QUEUE_BYTES: "8000000G" },
      2,
      /Invalid SPANBRIDGE_MAX_QUEUE_BYTES: 8000000G exceeds the maximum of 4096M/,
    ],
    [
      "SPANBRIDGE_LOG_LEVEL=__proto__",
      ["run", "--target", "/bin/true"],
      { SPANBRIDGE_LOG_LEVEL: "__proto__" },
      2,
      /Invalid log level "__proto__"/,
    ],
    [
      "an OTEL_EXPORTER_OTLP_CERTIFICATE that is not PEM",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_CERTIFICATE: `${root}README.md` },
      2,
      /Invalid OTEL_EXPORTER_OTLP_CERTIFICATE: ".*README.md" holds no PEM certificate/,
    ],
    [
      "an endpoint with credentials that is not http, without showing them",
      ["run", "--target", "/bin/true"],
      { OTEL_EXPORTER_OTLP_ENDPOINT: "ftp://alice:s3cr3t@collector:21" },
      2,
      /^(?!.*s3cr3t).*Invalid OTEL_EXPORTER_OTLP_ENDPOINT: "ftp:\/\/REDACTED:REDACTED@collector\/"/,
    ],
    [
      "a ring size that is not a power of two",
      ["run", "--target", "/bin/true", "--ring-size", "100000"],
      {},
      2,
      /Invalid ring size 100000: expected a power of two/,
    ],
  ] as const
) {
  Deno.test(`spanbridge run rejects ${name} with exit code ${code}`, async () => {
    const r = await spanbridge([...args, "--log-format", "json"], { ...env });
    assert.equal(r.code, code, `stderr: ${r.stderr}`);
    assert.equal(
      r.stderr.trim().split("\n").length,
      1,
      `expected one line, got:\n${r.stderr}`,
    );
    // The format asked for, as every later line of the controller.
    const line = JSON.parse(r.stderr);
    assert.equal(line.level, "error");
    assert.match(line.msg, pattern);
  });
}

Deno.test("spanbridge run rejects OTEL_SDK_DISABLED=yes with exit code 2", async () => {
  const r = await spanbridge(
    ["run", "--target", "/bin/true", "--log-format", "json"],
    { OTEL_SDK_DISABLED: "yes" },
  );
  assert.equal(r.code, 2, r.stderr);
  // The Deno runtime reads OTEL_SDK_DISABLED itself (its own OpenTelemetry)
  // and complains in plain text before any of our code runs; our line is
  // the last one.
  const lines = r.stderr.trim().split("\n");
  assert.ok(
    lines.slice(0, -1).every((l) => /^'OTEL_SDK_DISABLED' env var/.test(l)),
    r.stderr,
  );
  const line = JSON.parse(lines.at(-1)!);
  assert.equal(line.level, "error");
  assert.match(
    line.msg,
    /Invalid OTEL_SDK_DISABLED: "yes" is not true or false/,
  );
});

Deno.test("spanbridge run writes an argument error in the log format asked for: text is one text line", async () => {
  const r = await spanbridge(["run", "--pid", "12ab", "--log-format", "text"]);
  assert.equal(r.code, 2);
  assert.equal(r.stderr.trim().split("\n").length, 1, r.stderr);
  assert.match(r.stderr, /^\d\d:\d\d:\d\d\.\d{3} ERROR Invalid pid "12ab"/);
});

Deno.test("spanbridge run honours OTEL_LOG_LEVEL when no other level is set", async () => {
  const r = await spanbridge(
    ["run", "--target", "/bin/true", "--log-format", "json"],
    { OTEL_LOG_LEVEL: "none" },
  );
  assert.equal(r.code, 2);
  assert.match(
    JSON.parse(r.stderr).msg,
    /not a Go/i,
    "errors are never silenced",
  );
});

Deno.test("spanbridge run names a Go binary without the SDK", async () => {
  const dir = `${tmp}/nosdk`;
  await Deno.mkdir(dir, { recursive: true });
  await Deno.writeTextFile(`${dir}/go.mod`, "module nosdk\n\ngo 1.22\n");
  await Deno.writeTextFile(
    `${dir}/main.go`,
    'package main\n\nfunc main() { println("hi") }\n',
  );
  const built = await new Deno.Command("go", {
    args: ["build", "-o", "nosdk", "."],
    cwd: dir,
  })
    .output();
  assert.equal(built.code, 0, new TextDecoder().decode(built.stderr));
  const r = await spanbridge([
    "run",
    "--target",
    `${dir}/nosdk`,
    "--log-format",
    "json",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /spanbridge/);
  assert.match(r.stderr, /nosdk/);
});

Deno.test("spanbridge run refuses a bad --sample as bad usage, naming the value and the syntax", async () => {
  const r = await spanbridge([
    "run",
    "--target",
    "/bin/true",
    "--sample",
    "pod:web=0.5",
    "--log-format",
    "text",
  ]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(
    r.stderr,
    /Invalid --sample "pod:web=0.5": expected exe:<glob>=<ratio>, container:<id>=<ratio> or <ratio>/,
  );
});

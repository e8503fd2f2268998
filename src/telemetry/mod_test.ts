import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import { readTelemetryConfig, Telemetry } from "./mod.ts";
import { testStats } from "../../testing/controller_stats.ts";

const quiet = createLogger({ write: () => {} });

Deno.test("Telemetry turns ready once attached and labels its metrics with the node", async () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const telemetry = await Telemetry.start(
    readTelemetryConfig("0", {}, "node-7")!,
    log,
  );
  const base = `http://127.0.0.1:${telemetry.address.port}`;
  try {
    assert.match(
      lines[0],
      /"msg":"telemetry listening".*"address":"127\.0\.0\.1:\d+"/,
    );
    let res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 503);
    await res.body?.cancel();
    telemetry.attach({ stats: testStats });
    res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    await res.body?.cancel();
    const text = await (await fetch(`${base}/metrics`)).text();
    assert.match(
      text,
      /target_info\{[^}]*host_name="node-7"[^}]*k8s_node_name="node-7"/,
    );
    assert.match(text, /spanbridge_span_received_total\{[^}]*\} 1000/);
  } finally {
    await telemetry.close();
  }
});

Deno.test("Telemetry names the address it cannot listen on", async () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    await assert.rejects(
      () => Telemetry.start(readTelemetryConfig(`${port}`, {})!, quiet),
      new RegExp(
        `Cannot listen for telemetry on 127\\.0\\.0\\.1:${port}: .*--telemetry`,
      ),
    );
  } finally {
    taken.close();
  }
});

/** The modules `root` imports statically, transitively (not import()). */
async function staticImports(root: URL): Promise<Set<string>> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "info",
      "--json",
      "--config",
      new URL("../../deno.json", import.meta.url).pathname,
      root.href,
    ],
    stdout: "piped",
    stderr: "inherit",
  }).output();
  assert.ok(out.success, "deno info failed");
  const graph = JSON.parse(new TextDecoder().decode(out.stdout)) as {
    modules: {
      specifier: string;
      dependencies?: { code?: { specifier: string }; isDynamic?: boolean }[];
    }[];
  };
  const bySpecifier = new Map(graph.modules.map((m) => [m.specifier, m]));
  const seen = new Set<string>();
  const visit = (specifier: string) => {
    if (seen.has(specifier)) return;
    seen.add(specifier);
    for (const d of bySpecifier.get(specifier)?.dependencies ?? []) {
      if (d.code && !d.isDynamic) visit(d.code.specifier);
    }
  };
  visit(root.href);
  return seen;
}

Deno.test("the controller loads the metrics SDK only with telemetry on, and the OTLP metrics exporter only with the push", async () => {
  const main = await staticImports(new URL("../main.ts", import.meta.url));
  assert.ok(
    main.has(new URL("./mod.ts", import.meta.url).href),
    "the walk reaches src/telemetry",
  );
  const npm = (mods: Set<string>) =>
    [...mods].filter((m) => m.startsWith("npm:")).map((m) =>
      m.replace(/^npm:\/?(@?[^@]+)@.*$/, "$1")
    );
  for (const pkg of ["sdk-metrics", "exporter-prometheus", "metrics-otlp"]) {
    assert.deepEqual(npm(main).filter((m) => m.includes(pkg)), [], pkg);
  }
  const metrics = npm(
    await staticImports(new URL("./metrics.ts", import.meta.url)),
  );
  assert.ok(metrics.includes("@opentelemetry/sdk-metrics"), `${metrics}`);
  assert.deepEqual(metrics.filter((m) => m.includes("metrics-otlp")), []);
});

Deno.test("Telemetry names the OTLP metrics endpoint without its credentials", async () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const closed = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (closed.addr as Deno.NetAddr).port;
  closed.close();
  const telemetry = await Telemetry.start(
    readTelemetryConfig("0", {
      OTEL_METRICS_EXPORTER: "otlp",
      OTEL_EXPORTER_OTLP_ENDPOINT: `http://alice:s3cr3t@127.0.0.1:${port}`,
      OTEL_EXPORTER_OTLP_TIMEOUT: "500",
    })!,
    log,
  );
  try {
    const base = `http://127.0.0.1:${telemetry.address.port}`;
    const served = await (await fetch(`${base}/metrics`)).text() +
      await (await fetch(`${base}/readyz`)).text();
    assert.ok(!served.includes("s3cr3t"));
  } finally {
    await telemetry.close();
  }
  assert.match(
    lines[0],
    new RegExp(
      `"otlpMetrics":"http://REDACTED:REDACTED@127\\.0\\.0\\.1:${port}/v1/metrics"`,
    ),
  );
  assert.ok(!lines.join("\n").includes("s3cr3t"), lines.join("\n"));
});

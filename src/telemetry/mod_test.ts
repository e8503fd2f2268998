import assert from "node:assert/strict";
import { createLogger } from "../log.ts";
import { readTelemetryConfig, Telemetry } from "./mod.ts";
import { testStats } from "./_test_stats.ts";

const quiet = createLogger({ write: () => {} });

Deno.test("Telemetry turns ready once attached and labels its metrics with the node", async () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const telemetry = Telemetry.start(
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

Deno.test("Telemetry names the address it cannot listen on", () => {
  const taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const port = (taken.addr as Deno.NetAddr).port;
    assert.throws(
      () => Telemetry.start(readTelemetryConfig(`${port}`, {})!, quiet),
      new RegExp(
        `Cannot listen for telemetry on 127\\.0\\.0\\.1:${port}: .*--telemetry`,
      ),
    );
  } finally {
    taken.close();
  }
});

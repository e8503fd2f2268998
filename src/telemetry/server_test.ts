import assert from "node:assert/strict";
import { prometheusContentType, serveTelemetry } from "./server.ts";
import type { Readiness } from "./readiness.ts";

Deno.test("the telemetry listener serves liveness, readiness and metrics on loopback", async () => {
  let verdict: Readiness = {
    ready: false,
    checks: [{ name: "probe", ok: false, detail: "not loaded yet" }],
  };
  const server = serveTelemetry({ hostname: "127.0.0.1", port: 0 }, {
    readiness: () => verdict,
    metrics: () => Promise.resolve("m_total 1\n"),
  });
  const base = `http://127.0.0.1:${server.addr.port}`;
  try {
    let res = await fetch(`${base}/healthz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok\n");

    res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 503);
    assert.equal(await res.text(), "FAIL probe: not loaded yet\n");
    verdict = {
      ready: true,
      checks: [{ name: "probe", ok: true, detail: "loaded" }],
    };
    res = await fetch(`${base}/readyz`);
    assert.equal(res.status, 200);
    assert.equal(await res.text(), "ok probe: loaded\n");

    res = await fetch(`${base}/metrics`);
    assert.equal(res.headers.get("content-type"), prometheusContentType);
    assert.equal(await res.text(), "m_total 1\n");

    res = await fetch(`${base}/nope`);
    assert.equal(res.status, 404);
    await res.body?.cancel();
    res = await fetch(`${base}/metrics`, { method: "POST" });
    assert.equal(res.status, 405);
    await res.body?.cancel();
  } finally {
    await server.shutdown();
  }
});

Deno.test("the telemetry listener answers 500 when metrics cannot be collected", async () => {
  const server = serveTelemetry({ hostname: "127.0.0.1", port: 0 }, {
    readiness: () => ({ ready: true, checks: [] }),
    metrics: () => Promise.reject(new Error("Cannot collect: boom")),
  });
  try {
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`);
    assert.equal(res.status, 500);
    assert.equal(await res.text(), "Cannot collect: boom\n");
  } finally {
    await server.shutdown();
  }
});

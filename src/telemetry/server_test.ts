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

/** Opens `n` loopback connections that send half a request head and stop. */
async function halfSent(port: number, n: number): Promise<Deno.Conn[]> {
  const conns: Deno.Conn[] = [];
  for (let i = 0; i < n; i++) {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode("GET /healthz HTTP/1.1\r\n"));
    conns.push(conn);
  }
  return conns;
}

/** Resolves when the server closed `conn` (the read ends or fails). */
async function closedByPeer(conn: Deno.Conn): Promise<void> {
  const buf = new Uint8Array(512);
  try {
    while (await conn.read(buf) !== null) { /* drain */ }
  } catch {
    // Reset by the peer: closed all the same.
  }
}

/** Resolves once the server closed every one of `conns`; throws after `ms`. */
async function allClosedWithin(conns: Deno.Conn[], ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new Error(`connections still open after ${ms} ms`)),
      ms,
    );
  });
  try {
    await Promise.race([Promise.all(conns.map(closedByPeer)), late]);
  } finally {
    clearTimeout(timer);
  }
}

const alwaysReady = {
  readiness: () => ({ ready: true, checks: [] }),
  metrics: () => Promise.resolve(""),
};

Deno.test("the telemetry listener closes connections that never finish their request, and keeps answering /healthz", async () => {
  const server = serveTelemetry(
    { hostname: "127.0.0.1", port: 0 },
    alwaysReady,
    undefined,
    { requestTimeoutMs: 500, maxConnections: 16 },
  );
  const conns = await halfSent(server.addr.port, 100);
  try {
    // Past the cap, the oldest idle connections make room: a probe gets in.
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    });
    assert.equal(await res.text(), "ok\n");
    assert.ok(performance.now() - started < 1_000);
    // Every one of them is closed by the server within the deadline.
    await allClosedWithin(conns, 3_000);
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    await server.shutdown();
  }
});

Deno.test("the telemetry listener outlives running out of file descriptors", async () => {
  // A child limited to 64 open files serves telemetry; 200 idle connections
  // make its accepts fail with EMFILE.
  const server = new URL("./server.ts", import.meta.url).href;
  const script = `
    import { serveTelemetry } from "${server}";
    import { createLogger } from "${
    new URL("../log.ts", import.meta.url).href
  }";
    const s = serveTelemetry({ hostname: "127.0.0.1", port: 0 }, {
      readiness: () => ({ ready: true, checks: [] }),
      metrics: () => Promise.resolve(""),
    }, createLogger({ format: "json" }), { requestTimeoutMs: 500, maxConnections: 128 });
    // As the agent does at start: Deno sets up its signal thread on the
    // first listener and panics if that meets EMFILE.
    const stop = Promise.withResolvers();
    Deno.addSignalListener("SIGTERM", stop.resolve);
    console.log(s.addr.port);
    await stop.promise;
    await s.shutdown();
  `;
  const child = new Deno.Command("sh", {
    args: [
      "-c",
      'ulimit -n 64 && exec "$0" eval --no-config "$1"',
      Deno.execPath(),
      script,
    ],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stdout = child.stdout.getReader();
  let conns: Deno.Conn[] = [];
  try {
    const { value } = await stdout.read();
    const port = Number(new TextDecoder().decode(value).trim());
    conns = await halfSent(port, 200);
    await allClosedWithin(conns, 10_000);
    const res = await fetch(`http://127.0.0.1:${port}/healthz`, {
      signal: AbortSignal.timeout(2_000),
    }).catch(async (err) => {
      try {
        child.kill();
      } catch { /* exited */ }
      throw new Error(
        `${err.message}; the child (${
          JSON.stringify(await child.status)
        }) said: ${await stderr}`,
      );
    });
    assert.equal(await res.text(), "ok\n");
  } finally {
    for (const conn of conns) {
      try {
        conn.close();
      } catch { /* closed already */ }
    }
    stdout.releaseLock();
    await child.stdout.cancel();
  }
  child.kill("SIGTERM");
  const { code } = await child.status;
  const log = await stderr;
  assert.equal(code, 0, log);
  assert.match(
    log,
    /Cannot accept a telemetry connection.*Too many open files/,
  );
});

Deno.test("the telemetry listener answers requests it does not serve with a status, then closes", async () => {
  const server = serveTelemetry(
    { hostname: "127.0.0.1", port: 0 },
    alwaysReady,
  );
  const exchange = async (request: string) => {
    const conn = await Deno.connect({
      hostname: "127.0.0.1",
      port: server.addr.port,
    });
    await conn.write(new TextEncoder().encode(request));
    const answer = await new Response(conn.readable).text();
    return answer.split("\r\n")[0];
  };
  try {
    assert.equal(
      await exchange("TRACE /healthz HTTP/1.1\r\n\r\n"),
      "HTTP/1.1 405 Method Not Allowed",
    );
    assert.equal(
      await exchange("nonsense\r\n\r\n"),
      "HTTP/1.1 400 Bad Request",
    );
    assert.equal(
      // 8 KiB exactly, so nothing is left unread to turn the close into a reset.
      await exchange(`GET /healthz HTTP/1.1\r\nx: `.padEnd(8192, "a")),
      "HTTP/1.1 431 Request Header Fields Too Large",
    );
    assert.equal(
      await exchange("HEAD /readyz HTTP/1.0\r\n\r\n"),
      "HTTP/1.1 200 OK",
    );
  } finally {
    await server.shutdown();
  }
});

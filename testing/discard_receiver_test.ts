import assert from "node:assert/strict";
import { startDiscardReceiver } from "./discard_receiver.ts";

Deno.test("discard receiver counts requests and bytes per path and in all", async () => {
  const receiver = await startDiscardReceiver();
  try {
    const post = async (url: string, size: number) => {
      const res = await fetch(url, {
        method: "POST",
        body: new Uint8Array(size),
      });
      assert.equal(res.status, 200);
      assert.equal((await res.arrayBuffer()).byteLength, 0);
    };
    await post(receiver.url, 10);
    await post(receiver.url, 5);
    await post(receiver.logsUrl, 7);
    assert.equal(receiver.requests("/v1/traces"), 2);
    assert.equal(receiver.bytes("/v1/traces"), 15);
    assert.equal(receiver.requests("/v1/logs"), 1);
    assert.equal(receiver.bytes("/v1/logs"), 7);
    assert.equal(receiver.requests("/v1/metrics"), 0);
    assert.equal(receiver.requests(), 3);
    assert.equal(receiver.bytes(), 22);
  } finally {
    await receiver.close();
  }
});

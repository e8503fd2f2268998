import assert from "node:assert/strict";
import { flatten, logsUrl } from "./controller.ts";

Deno.test("logsUrl puts /v1/logs where the traces URL has /v1/traces", () => {
  assert.equal(
    logsUrl("http://127.0.0.1:4318/v1/traces"),
    "http://127.0.0.1:4318/v1/logs",
  );
});

Deno.test("flatten spreads the stopped line's logs object into logs<Field>, zero without one", () => {
  assert.deepEqual(
    flatten({
      received: 5,
      exported: 5,
      dropped: 0,
      logs: { received: 3, exported: 2, dropped: 1, droppedQueueFull: 1 },
    }),
    {
      received: 5,
      exported: 5,
      dropped: 0,
      logsReceived: 3,
      logsExported: 2,
      logsDropped: 1,
      logsDroppedQueueFull: 1,
    },
  );
  assert.deepEqual(flatten({ received: 1, exported: 1, dropped: 0 }), {
    received: 1,
    exported: 1,
    dropped: 0,
    logsReceived: 0,
    logsExported: 0,
    logsDropped: 0,
  });
});

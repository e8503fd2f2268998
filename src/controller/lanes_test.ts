import assert from "node:assert/strict";
import { Lane, Lanes } from "./lanes.ts";

Deno.test("Lanes runs one task at a time, the first lane's before the later one's", async () => {
  const order: string[] = [];
  let running = 0;
  const lanes = new Lanes((err) => {
    throw err;
  });
  const task = (name: string) => async () => {
    assert.equal(running++, 0, "two tasks ran at once");
    await new Promise((r) => setTimeout(r, 1));
    order.push(name);
    running--;
  };
  const done = [
    lanes.enqueue(task("a"), Lane.later),
    lanes.enqueue(task("b"), Lane.later),
    lanes.enqueue(task("c")),
    lanes.enqueue(task("d"), Lane.first),
  ];
  await Promise.all(done);
  // "a" had started before the others were queued.
  assert.deepEqual(order, ["a", "c", "d", "b"]);
});

Deno.test("Lanes reports a failing task and runs the next", async () => {
  const errors: unknown[] = [];
  const lanes = new Lanes((err) => errors.push(err));
  let ran = false;
  await lanes.enqueue(() => {
    throw new Error("boom");
  });
  await lanes.enqueue(() => {
    ran = true;
  });
  assert.equal(errors.length, 1);
  assert.equal((errors[0] as Error).message, "boom");
  assert.ok(ran);
});

Deno.test("Lanes lets timers in during a long run of tasks that do not wait", async () => {
  const lanes = new Lanes((err) => {
    throw err;
  });
  let timerRan = false;
  let tasksBeforeTimer = 0;
  setTimeout(() => timerRan = true, 0);
  const tasks = [];
  for (let i = 0; i < 10; i++) {
    tasks.push(lanes.enqueue(() => {
      if (!timerRan) tasksBeforeTimer++;
      const end = performance.now() + 10;
      while (performance.now() < end) { /* a task that makes no call */ }
    }));
  }
  await Promise.all(tasks);
  assert.ok(timerRan);
  assert.ok(tasksBeforeTimer < 10, "the timer waited for every task");
});

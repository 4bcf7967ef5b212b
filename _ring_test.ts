// Tests of the shared ring every queue, channel, call queue and pool builds on.
import assert from "node:assert/strict";
import {
  ENDED,
  NOTHING,
  PUT_DONE,
  PUT_FULL,
  PUT_STOPPED,
  PUT_TOO_LARGE,
  Ring,
  TIMED_OUT,
} from "./_ring.ts";

Deno.test("Ring keeps records in order, whatever their size", async (t) => {
  await t.step("mixed sizes wrap around and grow the storage", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1 << 20 });
    const values: unknown[] = [];
    for (let round = 0; round < 50; round++) {
      for (let i = 0; i < 7; i++) {
        const value = i % 3 === 0 ? "x".repeat(round * 13 + i) : { round, i, list: [i, round] };
        values.push(value);
        assert.equal(ring.tryPut(value, false), PUT_DONE);
      }
      for (let i = 0; i < 5; i++) assert.deepEqual(ring.tryTake(), values.shift());
    }
    assert.deepEqual(ring.takeMany(), values);
    assert.equal(ring.length, 0);
    assert.equal(ring.tryTake(), NOTHING);
  });

  await t.step("takeMany takes at most max, oldest first", () => {
    const ring = Ring.create();
    for (let i = 0; i < 10; i++) ring.tryPut(i, false);
    assert.deepEqual(ring.takeMany(3), [0, 1, 2]);
    assert.deepEqual(ring.takeMany(), [3, 4, 5, 6, 7, 8, 9]);
  });
});

Deno.test("Ring put statuses", async (t) => {
  await t.step("a record over maxBytes is PUT_TOO_LARGE, and nothing is added", () => {
    const ring = Ring.create({ initialBytes: 64, maxBytes: 1024 });
    assert.equal(ring.tryPut("y".repeat(2000), false), PUT_TOO_LARGE);
    assert.equal(ring.put("y".repeat(2000)), PUT_TOO_LARGE);
    assert.equal(ring.length, 0);
  });

  await t.step("maxItems without eviction is PUT_FULL; with eviction the oldest goes", () => {
    const ring = Ring.create({ maxItems: 2 });
    assert.equal(ring.tryPut(1, false), PUT_DONE);
    assert.equal(ring.tryPut(2, false), PUT_DONE);
    assert.equal(ring.tryPut(3, false), PUT_FULL);
    assert.equal(ring.tryPut(3, true), PUT_DONE);
    assert.deepEqual(ring.takeMany(), [2, 3]);
    assert.equal(ring.stats.evicted, 1);
  });

  await t.step("a blocking put on a full ring times out with PUT_TIMED_OUT's status", () => {
    const ring = Ring.create({ maxItems: 1 });
    ring.tryPut(1, false);
    assert.notEqual(ring.put(2, 10), PUT_DONE);
    assert.deepEqual(ring.takeMany(), [1]);
  });

  await t.step("after stop: puts are PUT_STOPPED, takes drain then end", () => {
    const ring = Ring.create();
    ring.tryPut("left", false);
    assert.equal(ring.stop(), true);
    assert.equal(ring.stop(), false);
    assert.equal(ring.tryPut("late", false), PUT_STOPPED);
    assert.equal(ring.take(), "left");
    assert.equal(ring.take(), ENDED);
  });
});

Deno.test("Ring takes wait, time out and wake", async (t) => {
  await t.step("take times out with TIMED_OUT", () => {
    const ring = Ring.create();
    assert.equal(ring.take(5), TIMED_OUT);
  });

  await t.step("takeAsync is woken by a put", async () => {
    const ring = Ring.create();
    const taken = ring.takeAsync(5000);
    setTimeout(() => ring.tryPut("hello", false), 5);
    assert.equal(await taken, "hello");
  });

  await t.step("takeAsync rejects with the signal's reason on abort", async () => {
    const ring = Ring.create();
    const controller = new AbortController();
    const taken = ring.takeAsync(undefined, controller.signal);
    controller.abort(new Error("no more"));
    await assert.rejects(taken, /no more/);
    ring.tryPut(1, false); // the aborted waiter took nothing
    assert.equal(ring.tryTake(), 1);
  });

  await t.step("a ring rebuilt from its handle shares the records", () => {
    const ring = Ring.create();
    const other = new Ring(structuredClone(ring.handle));
    other.tryPut({ from: "other" }, false);
    assert.deepEqual(ring.tryTake(), { from: "other" });
  });
});

// Tests of the pool's job lists (the pool's queue and each worker's jobs).
import assert from "node:assert/strict";
import { Deque } from "./deque.ts";
import { seededRandom } from "../testdata/random.ts";

Deno.test("Deque is a FIFO that puts taken-back items at the front", () => {
  const deque = new Deque<number>();
  for (let i = 0; i < 3000; i++) deque.push(i);
  for (let i = 0; i < 2000; i++) assert.equal(deque.shift(), i);
  deque.unshift([-2, -1]);
  assert.equal(deque.length, 1002);
  assert.equal(deque.shift(), -2);
  assert.equal(deque.shift(), -1);
  assert.equal(deque.remove(2500), true);
  assert.equal(deque.remove(2500), false);
  const rest = deque.drain();
  assert.equal(rest.length, 999);
  assert.equal(rest[0], 2000);
  assert.equal(deque.shift(), undefined);
  deque.unshift([1, 2]); // at the front of an empty queue
  assert.deepEqual(deque.drain(), [1, 2]);
});

Deno.test("Deque keeps its order across the ring's wrap, growth and removals", async (t) => {
  await t.step("wrapped, then grown", () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 12; i++) deque.push(i);
    for (let i = 0; i < 10; i++) deque.shift(); // the head moves on: later pushes wrap
    for (let i = 12; i < 100; i++) deque.push(i); // and grow the ring while wrapped
    assert.deepEqual(deque.toArray(), Array.from({ length: 90 }, (_, i) => i + 10));
    assert.equal(deque.length, 90);
  });
  await t.step("look-up by position, negative from the back", () => {
    const deque = new Deque<string>();
    for (const item of ["a", "b", "c"]) deque.push(item);
    assert.equal(deque.peek(), "a");
    assert.equal(deque.at(0), "a");
    assert.equal(deque.at(2), "c");
    assert.equal(deque.at(-1), "c");
    assert.equal(deque.at(-3), "a");
    assert.equal(deque.at(3), undefined);
    assert.equal(deque.at(-4), undefined);
    assert.equal(deque.indexOf("b"), 1);
    assert.equal(deque.indexOf("z"), -1);
    assert.equal(new Deque<string>().peek(), undefined);
  });
  await t.step("removal from the middle of a wrapped ring", () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 14; i++) deque.push(i);
    for (let i = 0; i < 12; i++) deque.shift();
    for (let i = 14; i < 24; i++) deque.push(i); // 12..23, across the wrap
    assert.equal(deque.remove(13), true);
    assert.equal(deque.remove(20), true);
    assert.equal(deque.remove(23), true); // the last
    assert.equal(deque.remove(12), true); // the first
    assert.deepEqual(deque.toArray(), [14, 15, 16, 17, 18, 19, 21, 22]);
    deque.push(99);
    assert.equal(deque.at(-1), 99);
  });
  await t.step("taken-back items in front of a wrapped ring, growing it", () => {
    const deque = new Deque<number>();
    for (let i = 0; i < 16; i++) deque.push(i);
    for (let i = 0; i < 3; i++) deque.shift();
    deque.unshift([-5, -4, -3, -2, -1]); // 18 items: more than the ring held
    assert.deepEqual(deque.toArray(), [
      -5,
      -4,
      -3,
      -2,
      -1,
      ...Array.from({ length: 13 }, (_, i) => i + 3),
    ]);
  });
  await t.step("random pushes, shifts, take-backs and removals match an array", () => {
    const next01 = seededRandom(); // a failure replays the same operations
    const random = (n: number): number => Math.floor(next01() * n);
    const deque = new Deque<number>();
    const model: number[] = [];
    let next = 0;
    for (let step = 0; step < 20_000; step++) {
      const op = random(10);
      if (op < 5) {
        deque.push(next);
        model.push(next++);
      } else if (op < 8) {
        assert.equal(deque.shift(), model.shift());
      } else if (op < 9) {
        const back = Array.from({ length: random(40) }, () => next++);
        deque.unshift(back); // often more than the ring has free: it grows while wrapped
        model.unshift(...back);
      } else if (model.length > 0) {
        const item = model[random(model.length)]!;
        assert.equal(deque.remove(item), true);
        model.splice(model.indexOf(item), 1);
      }
      assert.equal(deque.length, model.length);
      assert.equal(deque.peek(), model[0]);
      assert.equal(deque.at(-1), model.at(-1));
    }
    assert.deepEqual(deque.toArray(), model);
  });
  await t.step("an emptied deque holds nothing and takes items again", () => {
    const deque = new Deque<object>();
    const items = Array.from({ length: 5000 }, () => ({}));
    for (const item of items) deque.push(item);
    while (deque.length > 0) deque.shift();
    assert.equal(deque.peek(), undefined);
    assert.equal(deque.at(0), undefined);
    assert.deepEqual(deque.toArray(), []);
    deque.push(items[0]!);
    assert.equal(deque.shift(), items[0]);
  });
});

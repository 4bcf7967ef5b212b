// Tests of the pool's job queue.
import assert from "node:assert/strict";
import { Deque } from "./deque.ts";

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

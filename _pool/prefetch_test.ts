import assert from "node:assert/strict";
import { PrefetchDepth } from "./prefetch.ts";
import {
  BELL_BYTES,
  BELL_HUNGRY_AT,
  MAX_PREFETCH,
  PREFETCH_MIN,
  PREFETCH_START,
} from "./protocol.ts";

Deno.test("PrefetchDepth: deep for tiny tasks, shallow for long ones, published to workers", () => {
  const bell = new Int32Array(new SharedArrayBuffer(BELL_BYTES));
  const prefetch = new PrefetchDepth(bell);
  assert.equal(prefetch.depth, PREFETCH_START);
  assert.equal(Atomics.load(bell, BELL_HUNGRY_AT), 1);
  assert.equal(prefetch.shortAhead, false); // nothing known yet
  prefetch.record(0.002); // 2 us tasks
  assert.equal(prefetch.depth, MAX_PREFETCH);
  assert.equal(Atomics.load(bell, BELL_HUNGRY_AT), MAX_PREFETCH / 4);
  assert.equal(prefetch.shortAhead, true); // workers run dry faster than a nap: poll
  for (let i = 0; i < 100; i++) prefetch.record(0.01); // 10 us tasks
  assert.equal(prefetch.depth, MAX_PREFETCH);
  assert.equal(prefetch.shortAhead, false);
  for (let i = 0; i < 100; i++) prefetch.record(0.1); // the mean moves to 100 us tasks
  assert.equal(prefetch.depth, 31);
  assert.equal(Atomics.load(bell, BELL_HUNGRY_AT), 7);
  for (let i = 0; i < 100; i++) prefetch.record(1); // 1 ms tasks: one running, three waiting
  assert.equal(prefetch.depth, 4);
  for (let i = 0; i < 100; i++) prefetch.record(5); // long tasks: one running, one waiting
  assert.equal(prefetch.depth, PREFETCH_MIN);
  prefetch.record(0); // one instant task does not undo the mean of long ones at once
  assert.equal(prefetch.depth, PREFETCH_MIN);
});

// Tests of the pool's timing statistics.
import assert from "node:assert/strict";
import { Durations, PoolTimings, STATS_WINDOW } from "./stats.ts";

Deno.test("Durations: percentiles of the recent window, max and mean of all", () => {
  const durations = new Durations();
  assert.deepEqual(durations.summary(), { p50: 0, p99: 0, max: 0, mean: 0 });
  for (let i = 1; i <= 100; i++) durations.add(i);
  assert.deepEqual(durations.summary(), { p50: 51, p99: 100, max: 100, mean: 50.5 });
  for (let i = 0; i < STATS_WINDOW; i++) durations.add(1);
  const summary = durations.summary();
  assert.equal(summary.p99, 1); // the window forgot the old samples
  assert.equal(summary.max, 100); // the max did not
});

Deno.test("PoolTimings: utilization is busy time over worker life", () => {
  const timings = new PoolTimings();
  assert.equal(timings.utilization(0), 0);
  timings.record(5, 30);
  timings.record(-1, 10); // clock skew never makes a negative wait
  assert.equal(timings.waitTime.summary().p50, 5);
  timings.retired(50);
  assert.equal(timings.utilization(30), 0.5);
});

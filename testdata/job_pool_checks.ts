// Checks shared by the KvPool and BullPool tests (the same behaviour from both engines), and the
// loop of their listener processes.
import assert from "node:assert/strict";
import { countListeners } from "./listener_count.ts";

/** What the check needs of a job pool whose listener runs `mark(tag)`, adding tag to `ran`. */
export interface CancellablePool {
  enqueue(task: "mark", args: [string]): Promise<string>;
  cancel(id: string): Promise<boolean>;
  result(id: string): Promise<unknown>;
}

/** Enqueues 150 `mark` jobs, cancelling each at once or a few ms later, then checks every one. */
export async function assertCancelRace(jobs: CancellablePool, ran: Set<string>): Promise<void> {
  const outcomes: { tag: string; id: string; cancelled: boolean }[] = [];
  for (let i = 0; i < 150; i++) {
    const tag = `race-${i}`;
    const id = await jobs.enqueue("mark", [tag]);
    // Cancel at once, or a little later: the listener takes some jobs first, some not.
    if (i % 3 !== 0) await new Promise((resolve) => setTimeout(resolve, i % 4));
    outcomes.push({ tag, id, cancelled: await jobs.cancel(id) });
  }
  for (const { id, cancelled } of outcomes) if (!cancelled) await jobs.result(id);
  for (const { tag, cancelled } of outcomes) {
    assert.equal(ran.has(tag), !cancelled, `${tag}: cancelled ${cancelled}, ran ${ran.has(tag)}`);
  }
  assert.ok(outcomes.some((o) => o.cancelled) && outcomes.some((o) => !o.cancelled));
}

/** What the lease check needs of a job pool whose tasks are testdata/kv_tasks.ts. */
export interface LeasedPool {
  enqueue(task: "spin", args: [number]): Promise<string>;
  result(id: string): Promise<unknown>;
  status(id: string): Promise<{ stalls: number; attempts: number } | undefined>;
  listen(): Promise<void>;
  close(): Promise<void>;
}

/**
 * With `jobs` and the listener process `child` both listening on one queue, a CPU-bound job 5
 * leases long runs once: had the spin starved the lease renewal, the other listener would see the
 * lease expire and run the job again. Stops `child` and `jobs`.
 */
export async function assertLongJobRunsOnce(
  jobs: LeasedPool,
  child: Deno.ChildProcess,
): Promise<void> {
  const listening = jobs.listen();
  const id = await jobs.enqueue("spin", [1000]);
  assert.ok(await jobs.result(id) as number > 0);
  const status = await jobs.status(id);
  assert.equal(status?.stalls, 0);
  assert.equal(status?.attempts, 1);
  child.stdin.close();
  assert.equal((await child.status).code, 0);
  await jobs.close();
  await listening;
}

/**
 * The loop of a listener process (testdata/kv_listener.ts, testdata/bull_listener.ts): says
 * "listening" (see spawn_listener.ts), listens until its stdin closes, then closes the pool.
 */
export async function listenUntilStdinCloses(
  jobs: { listen(): Promise<void>; close(): Promise<void> },
): Promise<void> {
  const listening = jobs.listen();
  console.log("listening");
  for await (const _ of Deno.stdin.readable) { /* wait */ }
  await jobs.close();
  await listening;
}

/** What the shared-signal check needs of a job pool with an `add(a, b)` task. */
export interface ResultsPool {
  enqueue(task: "add", args: [number, number], options: { delay: number }): Promise<string>;
  result(id: string, options: { signal: AbortSignal }): Promise<unknown>;
  cancel(id: string): Promise<boolean>;
}

/**
 * Awaits 30 results under one signal: one abort listener serves them all and goes with the last;
 * then an abort rejects results still waiting, even one between two polls of its job.
 */
export async function assertSharedSignal(jobs: ResultsPool): Promise<void> {
  const controller = new AbortController();
  const listeners = countListeners(controller.signal);
  const ids = await Promise.all(
    Array.from({ length: 30 }, (_, i) => jobs.enqueue("add", [i, 1], { delay: 30 })),
  );
  const results = await Promise.all(
    ids.map((id) => jobs.result(id, { signal: controller.signal })),
  );
  assert.deepEqual(results, Array.from({ length: 30 }, (_, i) => i + 1));
  assert.equal(listeners.most, 1);
  assert.equal(listeners.live, 0);
  const later = await Promise.all(
    Array.from({ length: 5 }, () => jobs.enqueue("add", [1, 1], { delay: 60_000 })),
  );
  const waiting = later.map((id) => jobs.result(id, { signal: controller.signal }));
  controller.abort(new Error("gave up"));
  for (const result of waiting) await assert.rejects(result, /gave up/);
  for (const id of later) await jobs.cancel(id);
}

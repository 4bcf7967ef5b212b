// Checks shared by the KvPool and BullPool tests (the same behaviour from both engines), and the
// loop of their listener processes.
import assert from "node:assert/strict";

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
